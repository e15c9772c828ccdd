# GTSRB, Final release (ortho_suite/datasets/transfer.py): Final_Training/Images/<class>/ with
# GT-<class>.csv, Final_Test/Images/ with GT-final_test.csv; train 39,209 / test 12,630 images,
# 43 classes; no official validation split.
# --data-root: the folder holding GTSRB/ (and GT-final_test.csv), or GTSRB/ itself.
_base_ = ['../_base_/datasets/transfer_folder.py']
train_dataloader = dict(dataset=dict(type='GTSRB'))
feature_data = dict(val_split=None)
