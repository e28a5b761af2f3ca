"""Train the MLP4 topology (2-4-8-8-4-2) on a toy two-class problem and watch the loss fall.

python examples/train_mlp4.py
"""

import numpy as np

import fnnet
from fnnet import layers, losses, optim, random


def main() -> None:
    k_data, k_init = random.split(random.key(0))
    # a toy problem: is the point inside the circle of radius 1?
    X = random.uniform(k_data, (512, 2), minval=-1.5, maxval=1.5)
    y = (np.sum(X**2, axis=1) < 1.0).astype(np.int64)

    model = layers.mlp([2, 4, 8, 8, 4, 2])  # ReLU between the five linear layers
    _, params, state = model.init(k_init, (-1, 2))
    opt = optim.sgd(0.1, momentum=0.9)
    opt_state = opt.init(params)
    loss_and_grads = fnnet.value_and_grad(model, losses.cross_entropy)

    for step in range(301):
        loss, grads, state = loss_and_grads(params, state, X, y)
        params, opt_state = opt.update(params, grads, opt_state)
        if step % 50 == 0:
            print(f"step {step:3d}  loss {loss:.4f}")

    logits, _ = model.apply(params, state, X)
    print(f"training accuracy {np.mean(logits.argmax(axis=1) == y):.3f}")


if __name__ == "__main__":
    main()
