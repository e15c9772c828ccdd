# Every method builds its algorithm through EncoderRegularized (ortho_suite/models/
# encoder_regularized.py); the method file names the algorithm, --reg sets the regularizer.
model = dict(type='EncoderRegularized', encoder_regularizer=dict(kind='none'))
