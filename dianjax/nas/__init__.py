"""dianjax.nas: the network side of the co-search.

- :mod:`~dianjax.nas.search_space`: op choices per layer, the spaces by name, and the layer
  table (every conv a supernet can execute, each with its hardware mapping slot) that the cost
  model reads;
- :mod:`~dianjax.nas.supernet`: the Flax supernet and the derived (discrete) networks;
- :mod:`~dianjax.nas.gumbel`: Gumbel-softmax relaxation of the op choice;
- :mod:`~dianjax.nas.cpu_conv`: depthwise (unrolled kernel taps) and 1x1 (matrix product) convolutions, fast on CPU.
- :mod:`~dianjax.nas.crossbar_noise`: convolutions and dense layers run on memristive crossbars (quantization, bit-slicing, conductance noise, IR drop, ADC).
"""
