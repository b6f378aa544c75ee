# Sort six letters from {A, B, C}: CABBAC -> AABBCC. The model has the shape of the one
# llm-viz animates (minGPT's demo): 3 layers, 3 heads, 48 channels, 85,584 parameters.
out_dir = "out-sort"
dataset = "sort"
block_size = 11  # 6 prompt letters + 6 sorted ones, minus the last (only ever a target)
n_layer = 3
n_head = 3
n_embd = 48
dropout = 0.0
bias = True

batch_size = 32
max_iters = 600  # held-out accuracy is perfect well before the end; the rest is margin
eval_interval = 100
eval_iters = 10
log_interval = 5
learning_rate = 1e-2  # a tiny model on a clean task learns fast at a high rate
min_lr = 1e-3
warmup_iters = 100
lr_decay_iters = 600
beta2 = 0.99
threads = 1  # at this size a second thread costs more in coordination than it gains
# float64 arithmetic over float32 weights (train.arithmetic): the run almost always
# comes out the same on any CPU and in the page's JavaScript, which retraces it step for
# step until a rounding falls the other way
dtype = "float64"
