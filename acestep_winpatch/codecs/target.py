"""The one output tensor a decoder writes into, block by block.

Decoding into a preallocated float32 tensor keeps peak memory near the size of the result:
no float64 stage, no list of blocks to concatenate, no full-size transposed copy.

The tensor's memory comes from numpy, not ``torch.empty``: numpy asks the kernel for
transparent huge pages on large arrays (Linux), so the first write into a 60 MiB result
takes some 30 page faults instead of 15,000, which on a virtual machine costs more than
converting the samples. The tensor is an ordinary contiguous tensor over that memory
(``torch.from_numpy``), as torchaudio 2.8's soundfile backend returned.
"""

import numpy as np
import torch

NUMPY_DTYPES = {torch.float32: np.float32, torch.int16: np.int16, torch.int32: np.int32, torch.uint8: np.uint8}


class FrameSink:
    """A ``[C, T]`` (or ``[T, C]``) tensor, float32 unless told otherwise, filled from decoded blocks.

    ``capacity`` is a best estimate of the frames to come. A decoder that delivers more
    makes the sink grow (one copy); one that delivers fewer gets a compacted tensor back.
    Writes go through a numpy view of the tensor: slicing it costs a fraction of slicing
    the tensor, which matters for decoders that deliver thousands of small frames.
    """

    def __init__(self, channels, capacity, channels_first, dtype=torch.float32):
        self.channels = channels
        self.channels_first = channels_first
        self.dtype = dtype
        self.filled = 0
        self.growable = True
        self._allocate(max(int(capacity), 0))

    @classmethod
    def window(cls, parent, offset, frames):
        """A fixed-size sink over ``frames`` frames of ``parent`` from ``offset``.

        Parallel decoders each fill one window of the same output tensor.
        """
        sink = cls.__new__(cls)
        sink.channels, sink.channels_first, sink.dtype = parent.channels, parent.channels_first, parent.dtype
        sink.filled, sink.capacity, sink.growable = 0, frames, False
        sink.tensor = None
        sink.array = parent._frames(offset, offset + frames)
        return sink

    def _allocate(self, capacity):
        shape = (self.channels, capacity) if self.channels_first else (capacity, self.channels)
        self.array = np.empty(shape, NUMPY_DTYPES[self.dtype])
        self.tensor = torch.from_numpy(self.array)
        self.capacity = capacity

    def _ensure_room(self, frames):
        needed = self.filled + frames
        if needed <= self.capacity:
            return
        if not self.growable:
            raise ValueError(f"a decoder delivered {needed} frames into a window of {self.capacity}")
        old = self.array
        self._allocate(max(needed, self.capacity + self.capacity // 2))
        self._frames(0, self.filled)[...] = old[:, :self.filled] if self.channels_first else old[:self.filled]

    def _frames(self, start, stop):
        return self.array[:, start:stop] if self.channels_first else self.array[start:stop]

    def interleaved_slot(self, frames):
        """A writable ``[frames, C]`` array when the output is ``[T, C]``, else ``None``.

        Lets a decoder that produces interleaved frames write straight into the output.
        """
        if self.channels_first:
            return None
        self._ensure_room(frames)
        return self.array[self.filled:self.filled + frames]

    def commit(self, frames):
        """Count ``frames`` written through ``interleaved_slot``."""
        self.filled += frames

    def put_interleaved(self, block, scale=None):
        """Append a ``[n, C]`` array, multiplied by ``scale`` when the samples are integers."""
        frames = block.shape[0]
        self._ensure_room(frames)
        convert(block.T if self.channels_first else block, self._frames(self.filled, self.filled + frames), scale)
        self.filled += frames

    def put_planes(self, planes, scale=None):
        """Append one 1-D array per channel (a planar decoder's output), each of the same length."""
        frames = len(planes[0])
        self._ensure_room(frames)
        start, stop = self.filled, self.filled + frames
        for channel, plane in enumerate(planes):
            row = self.array[channel, start:stop] if self.channels_first else self.array[start:stop, channel]
            convert(plane, row, scale)
        self.filled = stop

    def result(self):
        """The filled tensor, contiguous, with no unfilled frames.

        When fewer frames arrived than were reserved, channels are moved down in place
        (at most one channel's worth of temporary memory) instead of copying the whole tensor.
        """
        if self.filled == self.capacity:
            return self.tensor
        if not self.channels_first:
            return self.tensor[:self.filled]
        flat = self.tensor.view(-1)
        for channel in range(1, self.channels):
            start = channel * self.capacity
            flat[channel * self.filled:(channel + 1) * self.filled] = flat[start:start + self.filled].clone()
        return flat[:self.channels * self.filled].view(self.channels, self.filled)


def convert(source, destination, scale):
    """``destination[...] = source * scale`` (just ``source`` when ``scale`` is None), as float32.

    Cast first, then scale in place: two simple passes over a block that fits in the cache
    run about twice as fast as numpy's single casting multiply, and give the same bits (the
    scales are powers of two, so the multiplication itself never rounds).
    """
    destination[...] = source
    if scale is not None:
        np.multiply(destination, scale, out=destination)
