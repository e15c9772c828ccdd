from ortho_suite.cli import main

raise SystemExit(main())
