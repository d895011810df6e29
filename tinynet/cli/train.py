"""``tinynet train``: train a model with a recipe, save checkpoint, metrics and curves.

    tinynet train --model mlp --dataset digits
    tinynet train --model mlp --dataset moons --epochs 20 --optimizer sgd --lr 0.1
    tinynet train --resume runs/mlp-digits/checkpoint.safetensors --epochs 60

Writes to ``--out`` (default ``runs/<model>-<dataset>``, or ``...-2``, ``...-3`` when that
already holds a run, so nothing is overwritten): ``checkpoint.safetensors`` (each
epoch, atomically), ``metrics.csv``, ``metrics.json`` (per-epoch history and the final test
metrics) and ``curves.png``. The folder is checked before training starts.

**Resuming** (``--resume CKPT``) continues the saved run: model, data, optimizer, schedule
and seed come from the checkpoint, and the run writes next to the checkpoint it resumes
(``--out`` overrides; the folder stored inside a checkpoint never chooses where to write).
``--epochs`` is the new total. A schedule whose shape depends on the run's length
(``step``, ``cosine``, ``warmup-cosine``) cannot run past the epoch it was planned to end
at; to train on, give the remaining epochs a schedule of their own with ``--scheduler``
and/or ``--lr``: the new schedule starts at the resumed epoch, from ``--lr`` (default: the
run's base rate), and spans the remaining epochs. Other options cannot change on resume.

**Several processes** (``--nproc N``): the command starts itself again as an MPI job of N
processes (``mpiexec -n N``, the MPI of ``pip install "tinynet[distributed]"``; running
``mpiexec -n N tinynet train ...`` yourself does the same). Every process builds the same
model, data and loaders; the model is wrapped in ``DistributedDataParallel`` (its BatchNorm
layers become ``SyncBatchNorm``, whose statistics span all processes) and each process
trains on its share of every global batch of ``--batch-size`` samples (uneven shares are
fine). The result is the model one process would train with the same options, up to float
round-off -- except with dropout, whose masks each process draws for itself. Rank 0 alone
prints and writes the files; the checkpoint holds the plain model, so ``--resume`` works
with any number of processes (``--nproc`` is not part of the run's settings).

**Distillation** (``--teacher CKPT``): the student (``--model ...``) learns from a trained
teacher, any checkpoint ``tinynet train`` wrote (its model is rebuilt from the checkpoint's
config, as ``tinynet evaluate`` does, and put in eval mode). Every training batch also goes
through the teacher, under ``no_grad``, and the training loss is ``nn.DistillationLoss``:
``alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE``
(``--temperature T``, default 4; ``--alpha``, default 0.9). Validation and test losses stay
the plain cross-entropy. The teacher takes the student's batches in its own input format:
each recipe says how its inputs map to the dataset's raw samples, so an MLP student's
standardized ``(N, 64)`` digits vectors reach a CNN teacher as ``(N, 1, 8, 8)`` images. The
teacher must have been trained on the same dataset and split (``--split-seed``), so it never
saw the student's test samples, and predict the same classes. With ``--nproc`` every process
runs the teacher on its own slice of each batch. The options are saved in the config (a
resumed run reloads the teacher from the same path) and metrics.json describes the teacher.

Exit status: 0 on success; 1 if training diverged (the last good checkpoint is kept), an
output file could not be written, or a checkpoint is unusable; 2 for usage errors.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as _np

from .common import (OPTIMIZERS, SCHEDULERS, CLIError, apply_defaults, build_optimizer, build_scheduler,
                     config_of, load_checkpoint, non_negative_float, positive_float, positive_int,
                     resolve_device, seed_int)
from ..backend.errors import ShapeError
from . import finetune
from .recipes import RECIPES, get as get_recipe

# Options a resumed run takes from the command line; everything else (model, data, optimizer,
# seed) comes from the checkpoint's config, so the run continues unchanged.
RESUME_OVERRIDES = ("epochs", "out", "device", "no_progress", "resume", "nproc")
# Options that say how to run, not what: never saved in the checkpoint's config.
NOT_SAVED = ("nproc",)
# Environment variables in which MPI launchers give each process the job's size.
MPI_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
# Options that, given on resume, start a new learning-rate schedule at the resumed epoch.
SCHEDULE_OPTIONS = ("scheduler", "lr")
# Schedules whose shape depends on the planned number of epochs.
LENGTH_DEPENDENT = ("step", "cosine", "warmup-cosine")
# Config entries every training checkpoint has (the rest may take their defaults).
REQUIRED_CONFIG = ("model", "dataset", "seed", "epochs")
# Config entries that are not command-line options: where the current schedule starts and its length.
SCHEDULE_KEYS = ("schedule_start", "schedule_epochs")


def define_options(p):
    """Add every ``tinynet train`` option to the parser ``p``."""
    p.add_argument("--model", default="mlp", choices=sorted(RECIPES), help="which model (recipe) to train (default: mlp)")
    p.add_argument("--dataset", default=None,
                   help="dataset; per model: " + "; ".join(f"{n}: {', '.join(r.datasets)}" for n, r in sorted(RECIPES.items()))
                   + " (default: the model's first)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the recipe's)")
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: the recipe's)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="optimizer (default: the recipe's)")
    p.add_argument("--momentum", type=non_negative_float, default=None, help="momentum for sgd (0.9) and rmsprop (0)")
    p.add_argument("--weight-decay", type=non_negative_float, default=None, help="weight decay (L2; decoupled for adamw)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default=None, help="per-epoch learning-rate schedule")
    p.add_argument("--clip-grad-norm", type=positive_float, default=None, help="clip the gradient norm to this value")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed for initialisation, shuffling and dropout (default: 0)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: runs/<model>-<dataset>, "
                   "numbered -2, -3, ... if that holds a run; with --resume: the checkpoint's folder)")
    p.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue from a checkpoint (its settings are reused; --epochs is the new total)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=positive_int, default=None, metavar="N",
                   help="train with N processes (MPI, data parallel: each takes its share of every batch; the same "
                        "model as one process). Needs `pip install \"tinynet[distributed]\"` (default: 1)")
    p.add_argument("--teacher", default=None, metavar="CKPT",
                   help="distil from this trained model: a checkpoint written by `tinynet train` (any model on the "
                        "same dataset and classes); the training loss becomes the distillation loss")
    p.add_argument("--temperature", type=positive_float, default=None, metavar="T",
                   help="with --teacher: softmax temperature of the distillation loss (default: 4)")
    p.add_argument("--alpha", type=unit_float, default=None,
                   help="with --teacher: weight in [0, 1] of the teacher's soft targets; 1 - alpha weighs the "
                        "labels' cross-entropy (default: 0.9)")
    finetune.add_options(p)
    for name, recipe in sorted(RECIPES.items()):
        if recipe.add_arguments is not None:
            recipe.add_arguments(p.add_argument_group(f"{name} options"))
    return p


def unit_float(text):
    """argparse type: a number in [0, 1] (both ends included)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="train a model (e.g. --model mlp --dataset digits)",
        description="Train a model on an offline dataset with a progress bar, validation metrics each epoch, "
                    "a checkpoint, metrics CSV/JSON and a PNG of the curves. Options left out take the "
                    "model recipe's defaults.")
    return define_options(p)


def _options():
    """``{dest: argparse action}`` of every train option."""
    return {a.dest: a for a in define_options(argparse.ArgumentParser(add_help=False))._actions}


def explicit_options(argv) -> dict:
    """The train options the user actually typed in ``argv`` (defaults left out), parsed."""
    parser = define_options(argparse.ArgumentParser(add_help=False))
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return vars(parser.parse_known_args(argv)[0])


def _check_option(action, value):
    """Why ``value`` is not a value the option could have been given, or None."""
    if value is None:
        return None if action.default is None else "must not be null"
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
        return None if isinstance(value, bool) else f"must be true or false, found {value!r}"
    if action.choices is not None and value not in action.choices:
        return f"must be one of {', '.join(map(str, action.choices))}, found {value!r}"
    if action.type is None:
        return None if isinstance(value, str) else f"must be text, found {type(value).__name__}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return f"has the wrong type ({type(value).__name__})"
    try:
        parsed = action.type(value if isinstance(value, str) else repr(value))
    except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
        return str(exc)
    return None if parsed == value and type(parsed) is type(value) else f"is not a valid value ({value!r})"


def config_namespace(config: dict, where: str) -> argparse.Namespace:
    """A training checkpoint's config as a full option namespace, every value checked.

    Each saved option must be one ``tinynet train`` has and hold a value that option could
    take (a tampered config is refused, never run); options the config lacks take their
    defaults. Raises ``CLIError`` (exit status 1) naming the file and the option.
    """
    actions = _options()
    for key in REQUIRED_CONFIG:
        if key not in config:
            raise CLIError(f"{where}: not a tinynet training checkpoint (or one tampered with): its config has no "
                           f"{key!r}", code=1)
    ns = argparse.Namespace(**{dest: a.default for dest, a in actions.items() if dest != "help"})
    for key, value in config.items():
        if key in SCHEDULE_KEYS:
            problem = None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
                else f"must be an integer >= 0, found {value!r}"
        elif key in actions:
            problem = _check_option(actions[key], value)
        else:
            problem = "is not a tinynet train option"
        if problem:
            raise CLIError(f"{where}: not a tinynet training checkpoint (or one tampered with): config option {key!r} {problem}", code=1)
        setattr(ns, key, value)
    return ns


def _merge_resume(args):
    """Take the run's settings from the checkpoint so the resumed run continues the same one.

    Returns ``(checkpoint, new_schedule)``: ``new_schedule`` is true when ``--scheduler`` or
    ``--lr`` was given, which starts a new schedule at the resumed epoch.
    """
    ck = load_checkpoint(args.resume)
    saved = config_namespace(ck["config"], args.resume)
    given = explicit_options(args._argv)
    changed = [k for k, v in given.items()
               if k not in RESUME_OVERRIDES + SCHEDULE_OPTIONS and v != getattr(saved, k, None)]
    if changed:
        names = ", ".join("--" + k.replace("_", "-") for k in changed)
        raise CLIError(f"--resume continues the saved run, so {names} cannot change (saved: "
                       + ", ".join(f"{k}={getattr(saved, k, None)!r}" for k in changed)
                       + "). Drop the option, or start a new run without --resume.")
    new_schedule = any(k in given for k in SCHEDULE_OPTIONS)
    for key, value in vars(saved).items():
        if key in ("out", "resume"):  # the folder a checkpoint names never chooses where to write
            continue
        if key not in given or key not in RESUME_OVERRIDES + SCHEDULE_OPTIONS:
            setattr(args, key, value)
    if args.out is None:  # write next to the checkpoint that is resumed, never where it says
        args.out = os.path.dirname(args.resume) or os.curdir
    start = getattr(saved, "schedule_start", None) or 0
    length = getattr(saved, "schedule_epochs", None) or saved.epochs
    epochs, done = args.epochs or saved.epochs, ck["epoch"]
    if new_schedule:
        args.schedule_start, args.schedule_epochs = done, max(1, epochs - done)
    else:
        args.schedule_start, args.schedule_epochs = start, length
        end = start + length
        if args.scheduler in LENGTH_DEPENDENT and epochs > end:
            raise CLIError(
                f"--resume: this run's {args.scheduler} schedule was planned to end at epoch {end} (its learning rate "
                f"is spent there), so it cannot run to --epochs {epochs}. To train on, give epochs {done + 1}-{epochs} "
                f"a schedule of their own: add `--scheduler {args.scheduler} --lr LR` (a new {args.scheduler} "
                "schedule from LR) or `--scheduler none --lr LR` (a constant rate).")
    return ck, new_schedule


def fresh_run_dir(base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... : the first that holds no finished run.

    Used when ``--out`` is not given, so running the same command twice never overwrites
    the first run's checkpoint (an explicit ``--out`` is written to as asked).
    """
    from .trainer import CHECKPOINT

    candidate, n = base, 1
    while os.path.lexists(os.path.join(candidate, CHECKPOINT)):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _setup(args):
    """Seed, build the recipe's Setup, move the model to the device."""
    from ..tensor.random import manual_seed

    recipe = get_recipe(args.model)
    if args.dataset is None:
        args.dataset = recipe.datasets[0]
    if args.dataset not in recipe.datasets:
        raise CLIError(f"--model {args.model} has no dataset {args.dataset!r}; choose one of {', '.join(recipe.datasets)}")
    apply_defaults(args, recipe)
    device = resolve_device(args.device)
    finetune.check_options(args)
    finetune.init_checkpoint(args)  # (a recipe may read the tokenizer or architecture from it)
    manual_seed(args.seed)
    try:
        setup = recipe.build(args)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    setup.model.to(device)
    return recipe, setup


def mpi_world_size() -> int:
    """The size of the MPI job this process belongs to (1 outside one), read from the
    launcher's environment variables, without starting MPI."""
    for name in MPI_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def run(args) -> int:
    world = mpi_world_size()
    if world > 1:  # one process of an MPI job (started by --nproc, or by mpiexec directly)
        if args.nproc is not None and args.nproc != world:
            raise CLIError(f"--nproc {args.nproc} but this process is one of {world} started by mpiexec; give --nproc "
                           f"{world} or leave it out (mpiexec decides the number of processes)")
        return _run_rank(args)
    if args.nproc is not None and args.nproc > 1:
        return _launch(args)
    return _train(args)


def _launch(args) -> int:
    """``--nproc N``: check what can be checked here, then run this command as N MPI processes."""
    import importlib.util

    from ..distributed.launcher import command, find_mpiexec, job_environment, run_attached
    from .trainer import prepare_out_dir

    if args.resume:
        _merge_resume(args)
    recipe = get_recipe(args.model)
    dataset = args.dataset or recipe.datasets[0]
    if dataset not in recipe.datasets:
        raise CLIError(f"--model {args.model} has no dataset {dataset!r}; choose one of {', '.join(recipe.datasets)}")
    apply_defaults(args, recipe)
    if args.teacher is not None:
        load_checkpoint(args.teacher)  # a missing or broken teacher is one line here, not N
    _check_teacher_options(args)
    if args.nproc > args.batch_size:
        raise CLIError(f"--nproc {args.nproc} is more than --batch-size {args.batch_size}: every batch is split across "
                       f"the processes, so each needs at least one sample of it; use --nproc {args.batch_size} or "
                       f"fewer, or a --batch-size of at least {args.nproc}")
    if importlib.util.find_spec("mpi4py") is None:
        raise CLIError("--nproc needs mpi4py and an MPI library: install them with `pip install \"tinynet[distributed]\"` "
                       "(from a checkout: `pip install -e \".[distributed]\"`)", code=1)
    try:
        find_mpiexec()
    except RuntimeError as exc:
        raise CLIError(f"--nproc: {exc}", code=1) from None
    if args.out is None:
        args.out = fresh_run_dir(os.path.join("runs", f"{args.model}-{dataset}"))
    try:
        prepare_out_dir(args.out)  # before starting N processes: a bad --out is one line
    except OSError as exc:
        raise CLIError(exc, code=1) from None
    # Every process runs this same command; --out is fixed here so that all agree on it.
    extra = [] if "out" in explicit_options(args._argv) else ["--out", args.out]
    argv = command(args.nproc, "tinynet", [*args._argv, *extra], module=True)
    print(f"tinynet train: starting {args.nproc} processes: {' '.join(argv)}", file=sys.stderr, flush=True)
    return run_attached(argv, job_environment(args.nproc))


def _run_rank(args) -> int:
    """One process of a ``--nproc`` job: join the process group, train, leave.

    Errors every process meets at the same point (bad options, a diverged loss, an empty
    loader) end every process with the same status and rank 0 prints the message. An error
    only one process meets (rank 0 failing to write a file) would leave the others waiting in
    their next collective, so that process prints it and aborts the whole job.
    """
    from .. import distributed as dist
    from ..distributed.process_group import comm

    # cuda models: NCCL between GPUs (one per rank) when CuPy has it; otherwise MPI (host copies)
    on_gpu = str(getattr(args, "device", "cpu") or "cpu").startswith("cuda")
    dist.init_process_group("nccl" if on_gpu and dist.is_nccl_available() else "mpi")
    rank = dist.get_rank()
    try:
        code = _train(args, distributed=True)
    except _RankLocalError as exc:
        print(f"tinynet train: error: rank {rank}: {exc}", file=sys.stderr, flush=True)
        comm().Abort(exc.code)
        raise  # not reached: Abort ends the process
    except CLIError as exc:
        dist.destroy_process_group()
        if rank == 0:
            raise
        return exc.code
    dist.destroy_process_group()
    return code


class _RankLocalError(CLIError):
    """A failure only this process of a job meets (e.g. rank 0 cannot write a file)."""


def _distribute(model, device):
    """Wrap ``model`` for data-parallel training: BatchNorm layers become SyncBatchNorm (batch
    statistics over every process, so N processes normalize as one would), then DDP."""
    from .. import nn
    from ..nn.normalization import _BatchNorm
    from ..nn.parallel import DistributedDataParallel

    if any(isinstance(m, _BatchNorm) and not isinstance(m, nn.SyncBatchNorm) for m in model.modules()):
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.to(device)
    return DistributedDataParallel(model)


def _train(args, distributed=False) -> int:
    from .trainer import NonFiniteLossError, Trainer, prepare_out_dir

    start = time.perf_counter()
    rank = 0
    if distributed:
        from .. import distributed as dist

        rank, world = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else (lambda *a, **k: None)
    ck, new_schedule = _merge_resume(args) if args.resume else (None, False)
    _check_teacher_options(args)
    recipe, setup = _setup(args)
    if args.out is None:
        args.out = fresh_run_dir(os.path.join("runs", f"{args.model}-{args.dataset}"))
    if ck is None:
        args.schedule_start, args.schedule_epochs = 0, args.epochs
    if rank == 0:
        try:
            prepare_out_dir(args.out)  # before any work: a bad --out is one line, not a lost run
        except OSError as exc:
            raise (_RankLocalError if distributed else CLIError)(exc, code=1) from None
    teacher = _build_teacher(args, setup) if args.teacher is not None else None
    model = setup.model
    params = finetune.apply(args, setup.model, say)
    if distributed:
        if world > args.batch_size:
            raise CLIError(f"{world} processes but --batch-size {args.batch_size}: every batch is split across the "
                           f"processes, so each needs at least one sample of it; use at most {args.batch_size} "
                           "processes or a larger --batch-size")
        model = _distribute(setup.model, resolve_device(args.device))
    optimizer = build_optimizer(args.optimizer, params, args.lr, args.weight_decay, args.momentum)
    scheduler = build_scheduler(args.scheduler, optimizer, args.schedule_epochs)
    config = {k: v for k, v in config_of(args).items() if k not in NOT_SAVED}
    trainer = Trainer(model, optimizer, setup.loss_fn, setup.train_loader, setup.val_loader,
                      None if new_schedule else scheduler, task=setup.task, forward=setup.forward,
                      predict=setup.predict, out_dir=args.out, progress=not args.no_progress, config=config,
                      extra=setup.extra, clip_grad_norm=args.clip_grad_norm, num_classes=setup.num_classes,
                      teacher=teacher)
    if ck is not None:
        try:
            trainer.load_checkpoint(ck)
        except ValueError as exc:
            raise CLIError(f"--resume: {args.resume}: {exc}", code=1) from None
        trainer.last_good = (ck["epoch"], args.resume)  # until this run saves one
        if new_schedule:  # a fresh schedule from --lr over the remaining epochs
            for group in optimizer.param_groups:
                group["lr"] = args.lr
                group.pop("initial_lr", None)
            trainer.scheduler = build_scheduler(args.scheduler, optimizer, args.schedule_epochs)
    n_params = sum(p.numel() for p in trainer.model.parameters())
    if distributed:
        try:
            trainer.check_shares()  # (fit checks it too; here it comes before the first line is printed)
        except ValueError as exc:
            raise CLIError(exc, code=1) from None
        from .trainer import share

        sizes = sorted({hi - lo for lo, hi in (share(args.batch_size, r, world) for r in range(world))}, reverse=True)
        batch = (f"batch {args.batch_size} split across {world} processes "
                 f"({' or '.join(map(str, sizes))} samples each)")
    else:
        batch = f"batch {args.batch_size}"
    say(f"training {args.model} on {args.dataset} ({len(setup.train_loader.dataset)} train samples) on "
        f"{args.device}: {n_params:,} parameters, {args.optimizer} lr {args.lr:g}, {batch}, "
        f"{args.epochs} epochs, seed {args.seed}, writing to {args.out}"
        + (f", resuming from {args.resume} (epoch {ck['epoch']})" if ck else ""))
    if teacher is not None:
        info = teacher.info
        say(f"distilling from {info['checkpoint']}: {info['model']} on {info['dataset']} (epoch {info['epoch']}, "
            f"{info['parameters']:,} parameters, inputs {info['inputs']}), temperature {info['temperature']:g}, "
            f"alpha {info['alpha']:g}")
    try:
        # A diverging run overflows on its way to NaN; the NaN message says it all, so NumPy's
        # RuntimeWarnings (overflow, invalid value) are not printed before it.
        with warnings.catch_warnings(), _np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            trainer.fit(args.epochs)
            test = None
            if setup.test_loader is not None:
                test = trainer.evaluate(setup.test_loader)
                trainer.write_results(test)
    except NonFiniteLossError as exc:
        raise CLIError(exc, code=1) from None
    except OSError as exc:  # an unwritable output folder, a full disk: only rank 0 writes
        raise (_RankLocalError if distributed else CLIError)(exc, code=1) from None
    except ValueError as exc:  # empty data
        raise CLIError(exc, code=1) from None
    if test is not None:
        say(format_report(test, "test"))
    elapsed = time.perf_counter() - start
    say(f"done in {elapsed:.1f} s; wrote {trainer.checkpoint_path}, metrics.csv, metrics.json, curves.png "
        f"in {args.out}")
    return 0


def _check_teacher_options(args):
    """--temperature/--alpha belong to --teacher; with it they take their defaults (4, 0.9)."""
    if args.teacher is None:
        given = [f"--{k}" for k in ("temperature", "alpha") if getattr(args, k, None) is not None]
        if given:
            raise CLIError(f"{' and '.join(given)} {'applies' if len(given) == 1 else 'apply'} only with --teacher "
                           "CKPT (knowledge distillation); add --teacher with a trained checkpoint, or drop "
                           f"{'it' if len(given) == 1 else 'them'}")
        return
    if args.temperature is None:
        args.temperature = 4.0
    if args.alpha is None:
        args.alpha = 0.9


def _build_teacher(args, setup):
    """Rebuild the teacher from its checkpoint (as ``tinynet evaluate`` does) and check that it
    fits the student: same dataset and split, same classes, inputs that can be adapted."""
    from ..tensor import random as _random
    from .trainer import CHECKPOINT, Teacher

    path = args.teacher
    where = f"--teacher {path}"
    if args.out is not None and os.path.realpath(os.path.join(args.out, CHECKPOINT)) == os.path.realpath(path):
        raise CLIError(f"--out {args.out} would overwrite the teacher's checkpoint {path}; write the student to "
                       "another folder")
    ck = load_checkpoint(path, map_location=resolve_device(args.device))
    ns = config_namespace(ck["config"], path)
    ns.device, ns.teacher, ns.temperature, ns.alpha = args.device, None, None, None
    state = _random.get_rng_state()  # building the teacher must not change the student's random stream
    try:
        _, teacher_setup = _setup(ns)
    except CLIError as exc:
        raise CLIError(f"{where}: its settings do not build a model: {exc}", code=1) from None
    finally:
        _random.set_rng_state(state)
    model = teacher_setup.model
    try:
        model.load_state_dict(ck["model"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CLIError(f"{where}: the weights do not fit the model: {exc}", code=1) from None
    student = f"the student (--model {args.model} on {args.dataset})"
    teacher = f"the teacher ({ns.model} on {ns.dataset})"
    if setup.task != "classification" or teacher_setup.task != "classification":
        raise CLIError(f"{where}: distillation needs two classifiers, but {teacher} is a {teacher_setup.task} model "
                       f"and {student} a {setup.task} model")
    if teacher_setup.num_classes != setup.num_classes:
        raise CLIError(f"{where}: {teacher} predicts {teacher_setup.num_classes} classes but {student} predicts "
                       f"{setup.num_classes}; a teacher must predict the student's classes")
    if ns.dataset != args.dataset:
        raise CLIError(f"{where}: {teacher} was trained on {ns.dataset!r} but {student} trains on {args.dataset!r}; "
                       f"use a teacher trained on {args.dataset!r}")
    t_split, s_split = getattr(ns, "split_seed", 0), getattr(args, "split_seed", 0)
    if t_split != s_split:
        raise CLIError(f"{where}: {teacher} used --split-seed {t_split} but {student} uses --split-seed {s_split}: its "
                       "training data would include the student's test samples; give the student --split-seed "
                       f"{t_split}")
    s_in, t_in = setup.inputs, teacher_setup.inputs
    if s_in is None or t_in is None or s_in.dataset != t_in.dataset:
        missing = [name for name, codec in ((f"--model {args.model}", s_in), (ns.model, t_in)) if codec is None]
        raise CLIError(f"{where}: the student's inputs cannot be adapted to {teacher}: "
                       + (f"the {' and '.join(missing)} recipe does not say how its inputs map to raw samples "
                          "(supported: mlp, cnn and resnet on their image/feature datasets)" if missing else
                          f"the raw samples differ ({s_in.dataset} vs {t_in.dataset})"))

    def adapt(x):
        try:
            return t_in.from_raw(s_in.to_raw(x))
        except (ValueError, TypeError, IndexError) as exc:
            raise ShapeError(f"{where}: cannot adapt the student's input batch {tuple(x.shape)} "
                             f"({s_in.describe}) to {teacher}'s inputs ({t_in.describe}): {exc}") from None

    rows = [r for r in ck["history"] if isinstance(r, dict)]
    info = {"checkpoint": path, "model": ns.model, "dataset": ns.dataset, "epoch": ck["epoch"],
            "parameters": sum(p.numel() for p in model.parameters()), "inputs": t_in.describe,
            "num_classes": teacher_setup.num_classes}
    if rows and isinstance(rows[-1].get("val_accuracy"), (int, float)):
        info["val_accuracy"] = rows[-1]["val_accuracy"]
    return Teacher(model, forward=teacher_setup.forward, adapt=adapt, temperature=args.temperature,
                   alpha=args.alpha, info=info)


def format_report(metrics: dict, split: str) -> str:
    """A few lines: loss, accuracy, macro precision/recall/F1 and the confusion matrix."""
    lines = [f"{split} loss {metrics['loss']:.4f}"]
    if "accuracy" in metrics:
        lines[0] += (f"  accuracy {100 * metrics['accuracy']:.2f}%  precision {metrics['precision_macro']:.4f}  "
                     f"recall {metrics['recall_macro']:.4f}  F1 {metrics['f1_macro']:.4f} (macro)")
        cm = metrics["confusion_matrix"]
        width = max(3, max(len(str(v)) for row in cm for v in row) + 1)
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        lines.append("     " + "".join(f"{j:>{width}}" for j in range(len(cm))))
        for i, row in enumerate(cm):
            lines.append(f"  {i:>2} " + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)
