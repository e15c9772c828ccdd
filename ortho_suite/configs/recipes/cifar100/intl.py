# INTL on CIFAR-100: the official scripts/cifar100.sh has the same settings as scripts/cifar10.sh
# (--lr 0.3 --wd 1e-4 --epochs 1000, cifar/main.py).
_base_ = ['../cifar10/intl.py']

optim_recipe = dict(source='winci-ai/INTL scripts/cifar100.sh, cifar/main.py')
