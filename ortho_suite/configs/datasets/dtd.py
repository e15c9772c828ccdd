# DTD (ortho_suite/datasets/transfer.py): images/<class>/ + labels/{train,val,test}<fold>.txt;
# fold 1 (the one Kornblith et al. 2019 report), 1,880 images per split, 47 classes.
# --data-root: the extracted official archive (dtd/) or the folder holding it.
_base_ = ['../_base_/datasets/transfer_folder.py']
train_dataloader = dict(dataset=dict(type='DTD', fold=1))
feature_data = dict(val_split='val')
