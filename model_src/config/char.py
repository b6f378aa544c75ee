# A character-level model of this project's own source code (model_src/*.py), sized
# for the budget: on one CPU core, a small model taking many small steps in its share of
# the build's time writes more Python-like text than a bigger one taking fewer. (The
# training chapter reports the measured seconds.)
out_dir = "out-char"
dataset = "char"
block_size = 64
n_layer = 3
n_head = 4
n_embd = 96
dropout = 0.0  # the run is too short for dropout to pay for the learning it slows
bias = False

batch_size = 16
max_iters = 800
eval_interval = 100
eval_iters = 8
log_interval = 5
learning_rate = 5e-3  # small models tolerate (and, in 800 steps, need) a high rate
min_lr = 5e-4
warmup_iters = 50
lr_decay_iters = 800
beta2 = 0.99
threads = 1  # two threads barely help at this size, and slow down a busy machine
