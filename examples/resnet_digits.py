"""Train ``fnnet.layers.resnet`` on the shipped 8x8 digits and report the test accuracy.

    PYTHONPATH=$PWD python examples/resnet_digits.py [--epochs 12] [--channels 16,32]
        [--blocks 1] [--lr 0.01] [--batch-size 64] [--schedule cosine] [--seed 0]

The data are prepared as ``fnnet train --dataset digits`` prepares them: a stratified
70/15/15 split from ``fold_in(key(seed), 0)``, images standardised with one mean and std
of the training split. Adam (a cosine schedule by default, or ``--schedule constant``),
cross-entropy; the model after the
last epoch is tested. Prints one line per epoch and the wall-clock time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fnnet
from fnnet import data, datasets, losses, optim, random, training
from fnnet.layers import resnet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--channels", default="16,32")
    parser.add_argument("--blocks", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()

    root = random.key(args.seed)
    _, k_split = random.split(random.fold_in(root, 0))
    x, y = datasets.load_digits()
    train, val, test = data.train_val_test_split(k_split, x, y, val=0.15, test=0.15, stratify=True)
    scaler = data.fit_standardizer(train[0], axis=None)

    def prep(xy):
        return data.standardize(scaler, xy[0]).astype(np.float32), xy[1]

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = prep(train), prep(val), prep(test)

    channels = tuple(int(c) for c in args.channels.split(","))
    model = resnet(10, channels, args.blocks)
    _, params, state = model.init(random.fold_in(root, 1), (-1, *x_train.shape[1:]))
    print(fnnet.summary(model, (-1, *x_train.shape[1:])))
    steps = -(-len(x_train) // args.batch_size)
    lr = optim.cosine_decay(args.lr, args.epochs * steps) if args.schedule == "cosine" else args.lr
    opt = optim.adam(lr)
    opt_state = opt.init(params)
    loss = losses.cross_entropy
    for epoch in range(args.epochs):
        key = random.fold_in(random.fold_in(root, 2), epoch)
        params, state, opt_state, m = training.train_epoch(
            model, loss, opt, params, state, opt_state, x_train, y_train, key,
            batch_size=args.batch_size,
        )  # fmt: skip
        v = training.evaluate(model, loss, params, state, x_val, y_val)
        print(
            f"epoch {epoch + 1:2d}  train loss {m.loss:.4f} acc {m.accuracy:.4f}  "
            f"val loss {v.loss:.4f} acc {v.accuracy:.4f}  ({time.perf_counter() - start:.1f} s)"
        )
    t = training.evaluate(model, loss, params, state, x_test, y_test)
    print(
        f"test accuracy {t.accuracy:.4f}, test loss {t.loss:.4f} ({len(x_test)} images); "
        f"{time.perf_counter() - start:.1f} s in all"
    )


if __name__ == "__main__":
    main()
