"""Optimizers against torch.optim, step by step, and 10-step MLP4 training trajectories."""

import numpy as np
import pytest
from helpers import randomize

import fnnet
from fnnet import layers, losses, optim, random, tree

torch = pytest.importorskip("torch")

CASES = [
    ("sgd", dict(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (
        "sgd",
        dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    ),
    ("adam", dict(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    (
        "adam",
        dict(lr=0.01, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.1),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    (
        "adamw",
        dict(lr=0.01, weight_decay=0.1),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    ),
    (
        "sgd",
        dict(lr=0.05, weight_decay=0.2),
        lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.2),
    ),
    (
        "sgd",
        dict(lr=0.05, momentum=0.5, weight_decay=0.2),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.2),
    ),
    (
        "adamw",
        dict(lr=0.02, b1=0.5, b2=0.9, eps=1e-3, weight_decay=0.3),
        lambda p: torch.optim.AdamW(p, lr=0.02, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.3),
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "make_torch"), CASES)
def test_update_rule(name, kwargs, make_torch):
    params = {
        "w": random.normal(random.key(0), (3, 4), np.float64),
        "b": random.normal(random.key(1), (4,), np.float64),
    }
    opt = getattr(optim, name)(**kwargs)
    state = opt.init(params)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    topt = make_torch(list(tparams.values()))
    for step in range(5):
        grads = {
            k: random.normal(random.key(10 + step), v.shape, np.float64) for k, v in params.items()
        }
        params, state = opt.update(params, grads, state)
        for k, t in tparams.items():
            t.grad = torch.tensor(grads[k])
        topt.step()
        for k, t in tparams.items():
            np.testing.assert_allclose(params[k], t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_schedules_match_torch_lr_schedulers():
    w = torch.zeros(1, requires_grad=True)
    for make_ours, make_torch in [
        (
            lambda: optim.exponential_decay(0.1, 0.9),
            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9),
        ),
        (
            lambda: optim.step_decay(0.1, 3, 0.5),
            lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5),
        ),
        (
            lambda: optim.cosine_decay(0.1, 8),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 8),
        ),
    ]:
        topt = torch.optim.SGD([w], lr=0.1)
        sched, ours = make_torch(topt), make_ours()
        for step in range(9):  # torch's cosine restarts after T_max; ours stays at the floor
            assert ours(step) == pytest.approx(topt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
            topt.step()
            sched.step()


def torch_mlp4(params):
    mods = []
    for i in range(5):
        p = params[str(2 * i)]
        lin = torch.nn.Linear(*p["W"].shape[::-1])
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(p["W"]))
            lin.bias.copy_(torch.tensor(p["b"]))
        mods += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*mods)


@pytest.mark.parametrize(
    ("make_ours", "make_torch"),
    [
        (
            lambda: optim.sgd(0.05, momentum=0.9),
            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        ),
        (lambda: optim.adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    ],
)
def test_mlp4_ten_step_trajectory(make_ours, make_torch):
    model = layers.mlp([2, 4, 8, 8, 4, 2], final_activation=layers.ReLU)
    _, params, state = model.init(random.key(0), (-1, 2))
    params = tree.map(lambda p: p.astype(np.float32), randomize(params, scale=0.7))
    x = random.normal(random.key(1), (16, 2))
    y = random.normal(random.key(2), (16, 2)) + 1.0
    opt = make_ours()
    opt_state = opt.init(params)
    net = torch_mlp4(params)
    topt = make_torch(net.parameters())
    step = fnnet.value_and_grad(model, losses.mse)
    for _ in range(10):
        loss, grads, state = step(params, state, x, y)
        params, opt_state = opt.update(params, grads, opt_state)
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(net(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        assert loss == pytest.approx(tloss.item(), rel=1e-5)
    for i in range(5):
        np.testing.assert_allclose(
            params[str(2 * i)]["W"], net[2 * i].weight.detach().numpy(), rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            params[str(2 * i)]["b"], net[2 * i].bias.detach().numpy(), rtol=1e-4, atol=1e-5
        )


def test_clip_by_global_norm_matches_torch():
    grads = {
        "w": random.normal(random.key(0), (3, 4), np.float64) * 5,
        "b": [random.normal(random.key(1), (4,), np.float64)],
    }
    tensors = [
        torch.zeros(3, 4, dtype=torch.float64, requires_grad=True),
        torch.zeros(4, dtype=torch.float64, requires_grad=True),
    ]
    tensors[0].grad, tensors[1].grad = torch.tensor(grads["w"]), torch.tensor(grads["b"][0])
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm=1.5)
    assert optim.global_norm(grads) == pytest.approx(total.item(), rel=1e-12)
    clipped = optim.clip_by_global_norm(grads, 1.5)
    np.testing.assert_allclose(clipped["w"], tensors[0].grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(clipped["b"][0], tensors[1].grad.numpy(), rtol=1e-5)


def test_masked_and_multi_match_torch_parameter_groups():
    # fnnet: W by AdamW with decay, b by SGD with momentum, the second layer frozen;
    # torch: the same as two optimizers over parameter groups, and no update for layer 2
    params = {
        "0": {
            "W": random.normal(random.key(0), (3, 4), np.float64),
            "b": random.normal(random.key(1), (3,), np.float64),
        },
        "1": {"W": random.normal(random.key(2), (2, 3), np.float64)},
    }
    labels = {"0": {"W": "w", "b": "b"}, "1": {"W": "w"}}
    mask = {"0": {"W": True, "b": True}, "1": {"W": False}}
    opt = optim.masked(
        optim.multi({"w": optim.adamw(0.01, weight_decay=0.1), "b": optim.sgd(0.1, 0.9)}, labels),
        mask,
    )
    state = opt.init(params)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in tree.leaves_with_paths(params)}
    t_adamw = torch.optim.AdamW([t["0/W"]], lr=0.01, weight_decay=0.1)
    t_sgd = torch.optim.SGD([t["0/b"]], lr=0.1, momentum=0.9)
    for step in range(4):
        key = random.key(10 + step)
        grads = tree.map(lambda p, key=key: random.normal(key, p.shape, np.float64), params)
        params, state = opt.update(params, grads, state)
        for path, g in tree.leaves_with_paths(grads):
            t[path].grad = torch.tensor(g)
        t_adamw.step()
        t_sgd.step()
        for path, p in tree.leaves_with_paths(params):
            np.testing.assert_allclose(p, t[path].detach().numpy(), rtol=1e-12, atol=1e-14)
