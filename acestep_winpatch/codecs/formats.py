"""Naming audio formats: from magic bytes, a caller's hint, or a file extension.

The magic bytes win, so a FLAC file named ``.wav`` still goes to a decoder that reads FLAC.
"""

import os

# Other spellings of a format, as users write them in extensions and ``format=`` hints.
ALIASES = {
    "wave": "wav", "aif": "aiff", "aifc": "aiff", "vorbis": "ogg", "oga": "ogg",
    "mp4": "m4a", "mpeg": "mp3", "snd": "au", "sph": "nist", "nis": "nist",
}


def normalise(name):
    """``"WAV"``, ``".wav"``, ``"wave"`` -> ``"wav"``; ``None`` stays ``None``."""
    if not name:
        return None
    name = str(name).lower().lstrip(".")
    return ALIASES.get(name, name)


def from_extension(path):
    """The format a path's extension names, or ``None``."""
    if path is None:
        return None
    return normalise(os.path.splitext(os.fspath(path))[1])


def sniff(head):
    """The format the first bytes of a file announce, or ``None`` when they announce none we know."""
    if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RF64":
        return "rf64"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head[:64] else "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b".snd":
        return "au"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "webm"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return "mp3"
    return None


def resolve(head, hint, path):
    """The format to decode as: sniffed bytes first, then the hint, then the extension."""
    return sniff(head) or normalise(hint) or from_extension(path)
