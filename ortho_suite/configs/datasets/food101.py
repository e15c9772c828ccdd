# Food-101 (ortho_suite/datasets/transfer.py): food-101/images/<class>/ + meta/{classes,train,
# test}.txt; train 75,750 / test 25,250 images, 101 classes; no official validation split.
# --data-root: the extracted official archive or the folder holding it.
_base_ = ['../_base_/datasets/transfer_folder.py']
train_dataloader = dict(dataset=dict(type='Food101'))
feature_data = dict(val_split=None)
