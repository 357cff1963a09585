"""A small, real training script: logistic regression by gradient descent on synthetic data.

It reads its hyper-parameters from params.yaml (as DVC users do), logs the loss
and accuracy of every epoch with gitml.log_metric, and writes its final
metrics to metrics.json and the model to model.json. Under `gitml run` all of it lands in one run; run on
its own (`python train.py`) it still works, and gitml.log_metric starts a run.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import yaml

import gitml


def make_data(n: int, seed: int) -> list[tuple[list[float], int]]:
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        x = [rng.gauss(0, 1), rng.gauss(0, 1)]
        y = 1 if 1.5 * x[0] - 2.0 * x[1] + 0.3 + rng.gauss(0, 0.5) > 0 else 0
        data.append((x, y))
    return data


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-max(min(z, 30), -30)))


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    data = make_data(params["samples"], params["seed"])
    split = int(len(data) * 0.8)
    train, test = data[:split], data[split:]
    w, b = [0.0, 0.0], 0.0
    for epoch in range(params["epochs"]):
        gw, gb, loss = [0.0, 0.0], 0.0, 0.0
        for x, y in train:
            p = sigmoid(w[0] * x[0] + w[1] * x[1] + b)
            loss -= math.log(p if y else 1 - p + 1e-12 if p < 1 else 1e-12)
            gw = [gw[0] + (p - y) * x[0], gw[1] + (p - y) * x[1]]
            gb += p - y
        w = [w[i] - params["lr"] * gw[i] / len(train) for i in range(2)]
        b -= params["lr"] * gb / len(train)
        correct = sum((sigmoid(w[0] * x[0] + w[1] * x[1] + b) > 0.5) == bool(y) for x, y in test)
        gitml.log_metric("loss", loss / len(train), step=epoch)
        gitml.log_metric("accuracy", correct / len(test), step=epoch)
    accuracy = correct / len(test)
    Path("metrics.json").write_text(json.dumps({"test": {"accuracy": accuracy}}))
    Path("model.json").write_text(json.dumps({"weights": w, "bias": b}))
    print(f"lr={params['lr']} epochs={params['epochs']}: test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
