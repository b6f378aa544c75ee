# A character-level model of eight of Shakespeare's plays (model_src/shakespeare.py, about
# 1 MB, nanoGPT's tiny Shakespeare size), sized to train in about a minute of one CPU
# core while the build's other models use the other. (The training chapter reports the
# measured seconds.)
out_dir = "out-char"
dataset = "char"
block_size = 64
n_layer = 3
n_head = 4
n_embd = 96
dropout = 0.0  # the run is too short for dropout to pay for the learning it slows
bias = False

batch_size = 16
max_iters = 1600  # about 1.7 passes over the training text; val loss still falling
eval_interval = 100
eval_iters = 8
log_interval = 5
learning_rate = 5e-3  # small models tolerate (and, in a short run, need) a high rate
min_lr = 5e-4
warmup_iters = 50
lr_decay_iters = 1600
beta2 = 0.99
threads = 1  # two threads barely help at this size, and slow down a busy machine
