"""Registry entries for the core ops: arithmetic, matmul, reductions, shapes, conversions."""
import numpy as np

import tinynet as tn

from . import ELEMENTWISE, OpEntry, _apart, _n

_EMPTY = ("noncontig", "empty")  # reductions over / views of axes that may have 0 rows


def _pos(rng, *shape):
    return rng.uniform(0.5, 2.0, size=shape)


ENTRIES = [
    OpEntry("add", lambda a, b: a + b, lambda r: [_n(r, 3, 4), _n(r, 4)], lambda a, b: a + b,
            layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("add_scalar", lambda a: 2.5 + a, lambda r: [_n(r, 2, 3)], lambda a: a + 2.5, layouts=ELEMENTWISE),
    OpEntry("sub", lambda a, b: a - b, lambda r: [_n(r, 2, 1, 3), _n(r, 4, 1)], lambda a, b: a - b,
            layouts=ELEMENTWISE, broadcast=(0,)),
    OpEntry("mul", lambda a, b: a * b, lambda r: [_n(r, 3, 1), _n(r, 1, 5)], lambda a, b: a * b,
            layouts=ELEMENTWISE, broadcast=(0,)),
    OpEntry("div", lambda a, b: a / b, lambda r: [_n(r, 3, 4), _pos(r, 3, 1)], lambda a, b: a / b,
            layouts=ELEMENTWISE, broadcast=(0,)),
    OpEntry("rdiv_scalar", lambda a: 1.0 / a, lambda r: [_pos(r, 5)], lambda a: 1.0 / a, layouts=ELEMENTWISE),
    OpEntry("pow", lambda a, b: a ** b, lambda r: [_pos(r, 2, 3), _n(r, 3)], lambda a, b: a ** b,
            layouts=ELEMENTWISE, broadcast=(0,)),
    OpEntry("pow_scalar", lambda a: a ** 3, lambda r: [_n(r, 4)], lambda a: a ** 3, layouts=ELEMENTWISE),
    OpEntry("neg", lambda a: -a, lambda r: [_n(r, 3)], lambda a: -a, layouts=ELEMENTWISE),
    OpEntry("exp", tn.exp, lambda r: [_n(r, 2, 3)], np.exp, layouts=ELEMENTWISE),
    OpEntry("log", tn.log, lambda r: [_pos(r, 2, 3)], np.log, layouts=ELEMENTWISE),
    OpEntry("sqrt", tn.sqrt, lambda r: [_pos(r, 4)], np.sqrt, layouts=ELEMENTWISE),
    OpEntry("abs", tn.abs, lambda r: [_apart(r, 2, 3)], np.abs, layouts=ELEMENTWISE),
    OpEntry("clip", lambda a: tn.clip(a, -0.5, 0.4), lambda r: [_apart(r, 3, 4)], lambda a: np.clip(a, -0.5, 0.4),
            layouts=ELEMENTWISE),
    OpEntry("maximum", tn.maximum, lambda r: [_apart(r, 3, 4), _apart(r, 4) + 0.01], np.maximum,
            layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("minimum", tn.minimum, lambda r: [_apart(r, 3, 4), _apart(r, 4) + 0.01], np.minimum,
            layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("where", lambda c, a, b: tn.where(c, a, b), lambda r: [r.random((3, 4)) > 0.5, _n(r, 3, 4), _n(r, 4)],
            lambda c, a, b: np.where(c, a, b), layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("matmul", tn.matmul, lambda r: [_n(r, 3, 4), _n(r, 4, 2)], np.matmul),
    OpEntry("matmul_batched", tn.matmul, lambda r: [_n(r, 2, 1, 3, 4), _n(r, 3, 4, 2)], np.matmul),
    OpEntry("matmul_vec_left", tn.matmul, lambda r: [_n(r, 4), _n(r, 2, 4, 3)], np.matmul),
    OpEntry("matmul_vec_right", tn.matmul, lambda r: [_n(r, 2, 3, 4), _n(r, 4)], np.matmul),
    OpEntry("matmul_vec_vec", tn.matmul, lambda r: [_n(r, 4), _n(r, 4)], np.matmul),
    OpEntry("sum_all", tn.sum, lambda r: [_n(r, 3, 4)], np.sum, layouts=ELEMENTWISE),
    OpEntry("sum_axis", lambda a: a.sum(axis=1), lambda r: [_n(r, 3, 4, 2)], lambda a: a.sum(axis=1), layouts=_EMPTY),
    OpEntry("sum_tuple_keepdims", lambda a: a.sum(axis=(0, 2), keepdims=True), lambda r: [_n(r, 3, 4, 2)],
            lambda a: a.sum(axis=(0, 2), keepdims=True)),
    OpEntry("mean_dim", lambda a: a.mean(dim=-1, keepdim=True), lambda r: [_n(r, 3, 4)],
            lambda a: a.mean(axis=-1, keepdims=True), layouts=_EMPTY),
    OpEntry("mean_all", tn.mean, lambda r: [_n(r, 2, 5)], np.mean, layouts=ELEMENTWISE),
    OpEntry("reshape", lambda a: a.reshape(4, -1), lambda r: [_n(r, 2, 3, 2)], lambda a: a.reshape(4, -1)),
    OpEntry("permute", lambda a: a.permute(2, 0, 1), lambda r: [_n(r, 2, 3, 4)], lambda a: a.transpose(2, 0, 1),
            layouts=_EMPTY),
    OpEntry("transpose", lambda a: a.transpose(0, 1), lambda r: [_n(r, 2, 3)], lambda a: a.T, layouts=_EMPTY),
    OpEntry("expand", lambda a: a.expand(2, 3, 4), lambda r: [_n(r, 3, 1)], lambda a: np.broadcast_to(a, (2, 3, 4))),
    OpEntry("unsqueeze_squeeze", lambda a: a.unsqueeze(1).squeeze(), lambda r: [_n(r, 3, 4)], lambda a: a),
    OpEntry("flatten", lambda a: a.flatten(1), lambda r: [_n(r, 2, 3, 4)], lambda a: a.reshape(2, 12)),
    OpEntry("to_dtype", lambda a: a.to(tn.float32).to(tn.float64), lambda r: [_n(r, 3)],
            lambda a: a.astype(np.float32).astype(np.float64), fwd_atol=1e-6, eps=1e-2, atol=1e-3,
            layouts=ELEMENTWISE, keeps_dtype=False),
    OpEntry("to_device", lambda a: a.to("cuda" if a.device == "cpu" else "cpu").to(a.device) * 2, lambda r: [_n(r, 3)],
            lambda a: a * 2, layouts=ELEMENTWISE),
    OpEntry("clone", lambda a: a.clone() * a, lambda r: [_n(r, 3)], lambda a: a * a, layouts=ELEMENTWISE),
]
