"""A convolution as the GEMM a systolic array runs, per dataflow (SCALE-Sim's convention).

SCALE-Sim (Samajdar et al., ISPASS 2020, Sec. III) lowers one convolution group to the product of
an ifmap operand matrix (output pixels x window, the im2col matrix) and a filter operand matrix
(window x filters), giving an ofmap matrix (output pixels x filters), with

    output pixels  = N * P * Q          (batch folded into the pixel dimension)
    window         = (C / groups) * R * S
    filters        = M / groups

The dataflow decides which two GEMM dimensions are spread over the array's rows (S_r) and columns
(S_c) and which one is streamed in time (T):

    dataflow  S_r            S_c            T
    "os"      output pixels  filters        window
    "ws"      window         filters        output pixels
    "is"      window         output pixels  filters

A grouped (and depthwise) convolution runs one group at a time, as SCALE-Sim's depthwise layers do:
every group is the same GEMM, so cycles and accesses of the layer are ``groups`` times those of one
group. All sizes are counts of words (one activation or weight per word).
"""

from __future__ import annotations

from typing import NamedTuple

from sim import checks
from sim.systolic.architecture import DATAFLOWS
from sim.workload import Layer


class GemmShape(NamedTuple):
    """One group of a layer as a GEMM mapped to the array, plus the operands' DRAM footprints.

    ``Sr``, ``Sc``, ``T`` are the spatial-row, spatial-column and temporal sizes; ``groups`` how
    many times the same GEMM runs. The footprints are the unique words of one group in DRAM: the
    unpadded input (``N * C/groups * H * W``; padding zeros are made on chip), the weights and the
    output.
    """

    Sr: int
    Sc: int
    T: int
    groups: int
    ifmap_words: int
    filter_words: int
    ofmap_words: int


def gemm_shape(layer: Layer, dataflow: str) -> GemmShape:
    """The GEMM one group of ``layer`` becomes under ``dataflow`` (see the module table)."""
    if not isinstance(layer, Layer):
        raise ValueError(f"layer must be a sim.Layer, got {type(layer).__name__}")
    checks.one_of("gemm_shape", "dataflow", dataflow, DATAFLOWS)
    groups = layer.groups
    pixels = layer.N * layer.P * layer.Q
    window = (layer.C // groups) * layer.R * layer.S
    filters = layer.M // groups
    Sr, Sc, T = {"os": (pixels, filters, window),
                 "ws": (window, filters, pixels),
                 "is": (window, pixels, filters)}[dataflow]
    return GemmShape(Sr=Sr, Sc=Sc, T=T, groups=groups,
                     ifmap_words=layer.ifmap_words // groups,
                     filter_words=layer.filter_words // groups,
                     ofmap_words=layer.ofmap_words // groups)
