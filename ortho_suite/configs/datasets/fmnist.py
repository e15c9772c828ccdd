# Fashion-MNIST (ortho_suite/datasets/fmnist.py): 60,000 train images, fed as 32x32 RGB (2-pixel
# zero padding, gray replicated); data_root '' = /usr/share/datasets/fashion-mnist (Debian).
_base_ = ['../_base_/datasets/array_images.py']
train_dataloader = dict(dataset=dict(type='FashionMNIST'))
model = dict(
    data_preprocessor=dict(
        # measured by ortho-suite on the 60,000 padded 32x32 training images (the unpadded
        # 28x28 images give the usual 0.2860 / 0.3530)
        mean=(0.2190, 0.2190, 0.2190),
        std=(0.3318, 0.3318, 0.3318)))
