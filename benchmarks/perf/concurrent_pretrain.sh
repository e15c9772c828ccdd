#!/bin/bash
# N smoke SimCLR pretrainings (params.yaml's simclr_none run) started at once, with the environment ENVS;
# prints the wall time of all N and the first run's last line (its final loss). README: Many runs at once.
#   ENVS="" benchmarks/perf/concurrent_pretrain.sh seq 1
#   ENVS="OMP_WAIT_POLICY=PASSIVE" benchmarks/perf/concurrent_pretrain.sh passive 2
cd "$(dirname "$0")/../.."
TAG=$1; N=$2
OPTS=$(.venv/bin/python -c "import yaml;print(yaml.safe_load(open('params.yaml'))['runs']['simclr_none_resnet18w8_fmnist']['cfg_options'])")
start=$(date +%s.%N)
for i in $(seq 1 $N); do
  rm -rf ${TMPDIR:-/tmp}/concurrent_pretrain_${TAG}_$i
  env $ENVS .venv/bin/ortho-suite pretrain --method simclr --reg none --backbone resnet18_cifar --dataset fmnist --aug solo_cifar_symmetric --seed 0 --epochs 2 --work-dir ${TMPDIR:-/tmp}/concurrent_pretrain_${TAG}_$i --cfg-options $OPTS > ${TMPDIR:-/tmp}/concurrent_pretrain_${TAG}_$i.log 2>&1 &
done
wait
end=$(date +%s.%N)
echo "$TAG x$N: $(echo "$end - $start" | bc) s; $(tail -1 ${TMPDIR:-/tmp}/concurrent_pretrain_${TAG}_1.log | cut -c1-70)"
