# Flowers-102 (ortho_suite/datasets/transfer.py): jpg/ + imagelabels.mat + setid.mat; train 1,020
# / val 1,020 / test 6,149 images, 102 classes.
# --data-root: the folder holding jpg/ and the two .mat files, or its parent (flowers-102/).
_base_ = ['../_base_/datasets/transfer_folder.py']
train_dataloader = dict(dataset=dict(type='Flowers102'))
feature_data = dict(val_split='val')
