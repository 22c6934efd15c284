#!/usr/bin/env python3
"""PyTorch peer of the WUDI engine: the paper's optimisation written the plain way, for timing and results.

For each synthetic [rows, cols] tensor with n task vectors tau_i, it minimises the LITERAL loss
    L(tau_m) = sum_i ||(tau_m - tau_i) tau_i^T||_F^2 / ||tau_i||_F^2
with autograd and torch.optim.Adam (float32, lr 1e-5, betas (0.9, 0.999), eps 1e-8), starting at
tau_m = sum_i tau_i, for 300 iterations (specification 2.1) -- the paper's formulation, not the Gram form.

Shapes match dev.wudi.bench.MergeBench, and so does the method: every distinct shape is run once untimed first
(CUDA's context, cuBLAS's kernels), and one set of task vectors per distinct shape is made before the clock and used
by every tensor of that shape. Output lines, one per tensor and one total, parseable as key=value pairs:
    PEER device=cuda workload=clip-vit-b32 tasks=8 steps=30 tensor=0 shape=2304x768 seconds=... steps_seconds=...
         extrapolated_steps=300 extrapolated_seconds=... loss_before=... loss_after=...
    PEER_TOTAL device=cuda workload=clip-vit-b32 tasks=8 steps=30 tensors=48 seconds=... steps_seconds=...
         extrapolated_steps=300 extrapolated_seconds=...
Per-tensor seconds include moving the task vectors to the device and tau_m back, like MergeBench; steps_seconds is
the optimisation loop alone (synchronised before and after). The literal loss costs 4 r^2 c flops per task and step,
so 300 steps of a 7B layer set are minutes: --steps S --extrapolate-to 300 runs S steps and reports
extrapolated_seconds = seconds - steps_seconds + steps_seconds * 300 / S (every step does the same work; the
extrapolation is the measured per-step time, not an estimate of it).

    python3 tests/pytorch/wudi_peer.py --workload clip-vit-b32 --tasks 8 [--steps 300] [--extrapolate-to 300] [--device cuda]
"""
import argparse
import time

import torch

WORKLOADS = {
    "clip-vit-b32": [(2304, 768), (768, 768), (3072, 768), (768, 3072)] * 12,
    "llama-7b-layer": [(4096, 4096)] * 4 + [(11008, 4096)] * 2 + [(4096, 11008)],
}


def literal_loss(tau_m, taus, inv_norms):
    loss = tau_m.new_zeros(())
    for tau, w in zip(taus, inv_norms):
        loss = loss + w * torch.linalg.matrix_norm((tau_m - tau) @ tau.T) ** 2
    return loss


def synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def wudi(taus, steps, lr, device):
    """tau_m after `steps` Adam steps, the losses before and after, and the seconds of the steps alone."""
    inv_norms = []
    for tau in taus:
        sq = torch.sum(tau * tau)
        inv_norms.append(1.0 / sq if sq > 0 else torch.zeros_like(sq))
    tau_m = torch.nn.Parameter(torch.stack(taus).sum(dim=0))
    opt = torch.optim.Adam([tau_m], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    with torch.no_grad():
        loss_before = literal_loss(tau_m, taus, inv_norms).item()
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = literal_loss(tau_m, taus, inv_norms)
        loss.backward()
        opt.step()
    synchronize(device)
    steps_seconds = time.perf_counter() - t0
    with torch.no_grad():
        loss_after = literal_loss(tau_m, taus, inv_norms).item()
    return tau_m.detach(), loss_before, loss_after, steps_seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=sorted(WORKLOADS), default="clip-vit-b32")
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--extrapolate-to", type=int, default=0, help="also report the time for this many steps (0: --steps)")
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--max-tensors", type=int, default=0, help="0 = all")
    ap.add_argument("--shrink", type=int, default=1, help="divide every dimension by N (rehearsals)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    target = args.extrapolate_to or args.steps
    if args.steps < 1 or target < args.steps or args.shrink < 1:
        ap.error("--steps must be >= 1, --extrapolate-to >= --steps, --shrink >= 1")

    torch.backends.cuda.matmul.allow_tf32 = False  # float32 products, like the engine's default
    torch.backends.cudnn.allow_tf32 = False
    gen = torch.Generator().manual_seed(args.seed)
    shapes = [(max(1, r // args.shrink), max(1, c // args.shrink)) for r, c in WORKLOADS[args.workload]]
    if args.max_tensors > 0:
        shapes = shapes[: args.max_tensors]
    # Uniform in [-0.005, 0.005), as MergeBench (not the same numbers: a different generator); one set per shape.
    host = {}
    for shape in shapes:
        if shape not in host:
            host[shape] = [(torch.rand(*shape, generator=gen) - 0.5) * 0.01 for _ in range(args.tasks)]
    for shape, taus in host.items():  # warm-up, untimed: one task, one step per distinct shape
        wudi([taus[0].to(args.device)], 1, args.lr, args.device)
    synchronize(args.device)
    total = steps_total = extrapolated_total = 0.0
    for index, (rows, cols) in enumerate(shapes):
        synchronize(args.device)
        t0 = time.perf_counter()
        taus = [t.to(args.device) for t in host[(rows, cols)]]
        tau_m, before, after, steps_seconds = wudi(taus, args.steps, args.lr, args.device)
        tau_m = tau_m.cpu()
        seconds = time.perf_counter() - t0
        extrapolated = seconds - steps_seconds + steps_seconds * target / args.steps
        total += seconds
        steps_total += steps_seconds
        extrapolated_total += extrapolated
        print(f"PEER device={args.device} workload={args.workload} tasks={args.tasks} steps={args.steps} "
              f"tensor={index} shape={rows}x{cols} seconds={seconds:.4f} steps_seconds={steps_seconds:.4f} "
              f"extrapolated_steps={target} extrapolated_seconds={extrapolated:.4f} "
              f"loss_before={before:.6e} loss_after={after:.6e}", flush=True)
    print(f"PEER_TOTAL device={args.device} workload={args.workload} tasks={args.tasks} steps={args.steps} "
          f"tensors={len(shapes)} seconds={total:.4f} steps_seconds={steps_total:.4f} "
          f"extrapolated_steps={target} extrapolated_seconds={extrapolated_total:.4f}", flush=True)


if __name__ == "__main__":
    main()
