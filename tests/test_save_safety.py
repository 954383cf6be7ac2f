"""Save safety: the song is never lost, and the file is where the user expects it (issue 11, items 6-10).

Native torchaudio opens the destination and writes into it; the fallback writes a temporary file
beside it and puts it in place only once it is finished (``acestep_winpatch.codecs.destination``).
What each leaves on disk is compared here: through symlinks, with modes, owners, extended
attributes, hard links and the longest valid names (a scenario run by native torchaudio, by the
fallback writer and by the patched ``torchaudio.save``, each in its own interpreter); and what a
failure leaves: a destination that cannot be replaced (a bind-mounted file), a full disk (a real
tmpfs), a Ctrl-C and a kill during a long save. Mounts need root, which is how CI runs
(``tests/mounts.py`` unmounts each one in ``finally``).
"""

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest
import soundfile
import torch

import mounts
from acestep_winpatch import codecs
from acestep_winpatch.codecs import destination
from conftest import run_python

OLD_FRAMES, NEW_FRAMES = 800, 1600  # the song already at the destination, and the one saved over it
TEMPORARY = re.compile(r"^\..*\.[0-9a-f]{8}" + re.escape(destination.TEMPORARY_MARK) + "$")


def song(frames=NEW_FRAMES):
    return torch.linspace(-0.5, 0.5, frames).repeat(2, 1)


def frames_of(path):
    return soundfile.info(str(path)).frames


def names_in(folder):
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------- what native leaves on disk (items 6-8)

SCENARIO = r"""
import json, os, stat, sys
import soundfile, torch

which, folder = sys.argv[1], sys.argv[2]
if which == "fallback":
    from acestep_winpatch import codecs
    save = codecs.encode
else:  # "native" runs with the plugin off, "patched" with it applied (falling back where FFmpeg is missing)
    import torchaudio
    if which == "patched":
        import acestep_winpatch
    save = torchaudio.save
OLD, NEW = int(sys.argv[3]), int(sys.argv[4])

def song(frames):
    return torch.linspace(-0.5, 0.5, frames).repeat(2, 1)

def at(name):
    return os.path.join(folder, name)

def frames(name):
    return soundfile.info(at(name)).frames if os.path.exists(at(name)) else None

def link(name):
    return os.readlink(at(name)) if os.path.islink(at(name)) else "not a symlink"

def mode(name):
    return oct(stat.S_IMODE(os.stat(at(name)).st_mode))

def tag(name):
    try:
        return os.getxattr(at(name), "user.song").decode()
    except OSError as error:
        return error.strerror

def attempt(name):
    try:
        save(at(name), song(NEW), 16000)
        return "saved"
    except Exception as error:
        return "failed"

os.umask(0o022)
seen = {}
save(at("target.wav"), song(OLD), 16000)
os.symlink("target.wav", at("link.wav"))
seen["symlink"] = [attempt("link.wav"), link("link.wav"), frames("target.wav")]

os.mkdir(at("elsewhere"))
save(at("elsewhere/real.wav"), song(OLD), 16000)
os.symlink("elsewhere/real.wav", at("to another folder.wav"))
os.symlink("to another folder.wav", at("chain.wav"))
seen["chain of symlinks into another folder"] = [attempt("chain.wav"), link("chain.wav"), link("to another folder.wav"),
                                                 frames("elsewhere/real.wav"), sorted(os.listdir(at("elsewhere")))]

os.symlink("created.wav", at("dangling.wav"))
seen["dangling symlink"] = [attempt("dangling.wav"), link("dangling.wav"), frames("created.wav")]
os.symlink("no such folder/created.wav", at("dangling into nowhere.wav"))
seen["dangling symlink into a missing folder"] = [attempt("dangling into nowhere.wav"), link("dangling into nowhere.wav")]
os.symlink("loop.wav", at("loop.wav"))
seen["symlink loop"] = [attempt("loop.wav"), link("loop.wav")]

for kept in (0o600, 0o640, 0o604, 0o755):
    name = f"existing {kept:o}.wav"
    save(at(name), song(OLD), 16000)
    os.chmod(at(name), kept)
    seen[f"existing file, mode {kept:o}"] = [attempt(name), mode(name), frames(name)]
for umask in (0o077, 0o002, 0o027):
    os.umask(umask)
    name = f"new under umask {umask:03o}.wav"
    seen[f"new file, umask {umask:03o}"] = [attempt(name), mode(name)]
    os.umask(0o022)
if os.geteuid() == 0:
    save(at("owned.wav"), song(OLD), 16000)
    os.chown(at("owned.wav"), 4321, 8765)
    seen["owner and group"] = [attempt("owned.wav"), os.stat(at("owned.wav")).st_uid, os.stat(at("owned.wav")).st_gid]
save(at("tagged.wav"), song(OLD), 16000)
os.setxattr(at("tagged.wav"), "user.song", b"keep me")
seen["extended attribute"] = [attempt("tagged.wav"), tag("tagged.wav")]

save(at("first name.wav"), song(OLD), 16000)
os.link(at("first name.wav"), at("second name.wav"))
seen["hard link"] = [attempt("first name.wav"), frames("first name.wav"), frames("second name.wav"),
                     os.path.samefile(at("first name.wav"), at("second name.wav"))]

for name in ("a" * 240 + ".wav", "b" * 251 + ".wav", "\u00e9" * 125 + ".wav"):
    seen[f"{len(os.fsencode(name))}-byte name"] = [attempt(name), frames(name)]

seen["left in the folder"] = [name if len(name) < 40 else f"<{len(os.fsencode(name))} bytes>"
                              for name in sorted(os.listdir(folder))]
print("SEEN " + json.dumps(seen))
"""

# Measured with torchaudio 2.11 + torchcodec 0.11.1 + FFmpeg 5.1 (native writes the destination in place);
# ``test_native_torchaudio_still_leaves_files_as_measured`` keeps these facts true.
NATIVE = {
    "symlink": ["saved", "target.wav", NEW_FRAMES],
    "chain of symlinks into another folder": ["saved", "to another folder.wav", "elsewhere/real.wav", NEW_FRAMES,
                                              ["real.wav"]],
    "dangling symlink": ["saved", "created.wav", NEW_FRAMES],
    "dangling symlink into a missing folder": ["failed", "no such folder/created.wav"],
    "symlink loop": ["failed", "loop.wav"],
    "existing file, mode 600": ["saved", "0o600", NEW_FRAMES],
    "existing file, mode 640": ["saved", "0o640", NEW_FRAMES],
    "existing file, mode 604": ["saved", "0o604", NEW_FRAMES],
    "existing file, mode 755": ["saved", "0o755", NEW_FRAMES],
    "new file, umask 077": ["saved", "0o600"],
    "new file, umask 002": ["saved", "0o664"],
    "new file, umask 027": ["saved", "0o640"],
    "owner and group": ["saved", 4321, 8765],
    "extended attribute": ["saved", "keep me"],
    "hard link": ["saved", NEW_FRAMES, NEW_FRAMES, True],
    "244-byte name": ["saved", NEW_FRAMES],
    "255-byte name": ["saved", NEW_FRAMES],
    "254-byte name": ["saved", NEW_FRAMES],
    "left in the folder": ["<244 bytes>", "<255 bytes>", "chain.wav", "created.wav",
                           "dangling into nowhere.wav", "dangling.wav", "elsewhere", "existing 600.wav",
                           "existing 604.wav", "existing 640.wav", "existing 755.wav", "first name.wav",
                           "link.wav", "loop.wav", "new under umask 002.wav", "new under umask 027.wav",
                           "new under umask 077.wav", "owned.wav", "second name.wav", "tagged.wav",
                           "target.wav", "to another folder.wav", "<254 bytes>"],
}
# The one documented difference: an atomic replace gives the destination's name a new file, so the
# other names of a hard-linked file keep the old song (native writes into the one shared file).
FALLBACK_HARD_LINK = ["saved", NEW_FRAMES, OLD_FRAMES, False]


def expected(hard_link):
    facts = dict(NATIVE, **{"hard link": hard_link})
    if not mounts.is_root():  # giving a file another owner needs root
        del facts["owner and group"]
        facts["left in the folder"] = [name for name in facts["left in the folder"] if name != "owned.wav"]
    return facts


def scenario(which, folder):
    plugin = {"ACESTEP_WINPATCH": "0"} if which == "native" else {}
    result = run_python(SCENARIO, which, str(folder), str(OLD_FRAMES), str(NEW_FRAMES), env=plugin)
    return json.loads(next(line[5:] for line in result.stdout.splitlines() if line.startswith("SEEN ")))


def test_fallback_leaves_files_where_and_as_native_does(tmp_path):
    """Items 6-8: symlinks followed to their target, modes, owner and extended attributes kept, new files
    created as native creates them, the longest valid names saved, no temporary left behind."""
    assert scenario("fallback", tmp_path) == expected(FALLBACK_HARD_LINK)


@pytest.mark.needs_broken_ffmpeg
def test_patched_save_without_ffmpeg_leaves_files_as_native_does(tmp_path):
    assert scenario("patched", tmp_path) == expected(FALLBACK_HARD_LINK)


@pytest.mark.needs_ffmpeg
def test_native_torchaudio_still_leaves_files_as_measured(tmp_path):
    assert scenario("native", tmp_path) == expected(NATIVE["hard link"])


def test_hard_linked_destination_gets_the_new_song_and_its_other_names_keep_the_old(tmp_path):
    first, second = tmp_path / "first.wav", tmp_path / "second.wav"
    codecs.encode(first, song(OLD_FRAMES), 16000)
    os.link(first, second)
    kept = second.read_bytes()
    codecs.encode(first, song(), 16000)
    assert frames_of(first) == NEW_FRAMES
    assert second.read_bytes() == kept
    assert not os.path.samefile(first, second)


def test_a_device_is_written_into_and_never_replaced(tmp_path):
    """Native writes into a device (``/dev/null``, a symlink to it); replacing one, as root, would put a
    regular file where the system's device was. A copy of /dev/null (made with mknod) stands in for it."""
    mounts.require_root()
    null = tmp_path / "null.wav"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.symlink(null, tmp_path / "discard.wav")
    codecs.encode(null, song(), 16000)
    codecs.encode(tmp_path / "discard.wav", song(), 16000)
    assert stat.S_ISCHR(os.stat(null).st_mode) and os.path.islink(tmp_path / "discard.wav")
    assert names_in(tmp_path) == ["discard.wav", "null.wav"]


# ---------------------------------------------------------------- temporary names (item 8)


@pytest.mark.parametrize("name", ["a.wav", "song.wav", "x" * 60 + ".flac", "y" * 251 + ".wav",
                                  "\u00e9" * 125 + ".wav", "\U0001f3b5" * 62 + ".mp3", "a"])
def test_temporary_names_fit_wherever_the_destination_does(name):
    budget = destination.name_budget("/music", name)
    temporary = destination.temporary_name(name, budget, "0123abcd")
    assert len(os.fsencode(temporary)) <= max(len(os.fsencode(name)), destination.SHORT_ENOUGH)
    assert TEMPORARY.match(temporary) and temporary.startswith(f".{name[:1]}")
    if len(os.fsencode(temporary)) < destination.SHORT_ENOUGH:
        assert temporary == f".{name}.0123abcd{destination.TEMPORARY_MARK}"


def test_temporary_names_on_windows_stay_under_max_path():
    """Windows counts the whole path against MAX_PATH (260 with the terminating NUL): near that limit
    the temporary is no longer than the destination, which fits."""
    folder = "C:\\" + "d" * 247
    assert len(folder) + 1 + len("song.wav") == 259
    budget = destination.name_budget(folder, "song.wav", max_path=260)
    assert budget == len("song.wav")
    assert len(destination.temporary_name("song.wav", budget, "0123abcd")) == budget
    assert destination.name_budget("C:\\music", "song.wav", max_path=260) == destination.SHORT_ENOUGH


# ---------------------------------------------------------------- a destination that cannot be replaced (item 9)


@pytest.fixture
def unreplaceable(tmp_path):
    """A destination that ``os.replace`` refuses (EBUSY) but that can be written into: another file
    bind-mounted onto it, as close as Linux comes to a file another Windows process holds open."""
    mounts.require_root()
    behind = tmp_path / "the file behind the mount"
    behind.mkdir()
    original = behind / "song.wav"
    codecs.encode(original, song(OLD_FRAMES), 16000)
    target = tmp_path / "song.wav"
    target.touch()
    with mounts.bind(original, target):
        yield target, original


def test_destination_that_cannot_be_replaced_is_written_in_place(unreplaceable, tmp_path):
    target, original = unreplaceable
    codecs.encode(target, song(), 16000)
    assert frames_of(original) == NEW_FRAMES == frames_of(target)
    assert names_in(tmp_path) == ["song.wav", "the file behind the mount"]


@pytest.mark.needs_ffmpeg
def test_native_writes_a_destination_that_cannot_be_replaced(unreplaceable, python):
    target, original = unreplaceable
    python(f"""
        import torch, torchaudio
        torchaudio.save({str(target)!r}, torch.linspace(-0.5, 0.5, {NEW_FRAMES}).repeat(2, 1), 16000)
    """, env={"ACESTEP_WINPATCH": "0"})
    assert frames_of(original) == NEW_FRAMES


@pytest.fixture
def unreplaceable_on_a_full_disk(tmp_path):
    """A destination that can be neither replaced (a mount point) nor written in place (its disk, a
    64 KiB tmpfs, has no room for a longer song): ``(destination, the file behind it, its bytes)``."""
    mounts.require_root()
    full = tmp_path / "a full disk"
    full.mkdir()
    with mounts.tmpfs(full, "64k"):
        original = full / "song.wav"
        codecs.encode(original, song(OLD_FRAMES), 16000)
        target = tmp_path / "song.wav"
        target.touch()
        with mounts.bind(original, target):
            yield target, original, original.read_bytes()


def assert_finished_song_kept(error, target, folder, frames):
    """``error`` names the destination and the kept file, which holds the whole new song."""
    assert error.filename == str(target) and str(target) in str(error)
    kept = error.filename2
    assert os.path.dirname(kept) == str(folder) and kept in str(error) and "unchanged" in str(error)
    assert TEMPORARY.match(os.path.basename(kept))
    codecs.encode(folder / "reference.wav", song(frames), 16000)
    assert open(kept, "rb").read() == (folder / "reference.wav").read_bytes()


def test_destination_that_can_be_neither_replaced_nor_written_keeps_the_finished_song(
        unreplaceable_on_a_full_disk, tmp_path):
    target, original, before = unreplaceable_on_a_full_disk
    with pytest.raises(destination.FinishedFileKept) as caught:
        codecs.encode(target, song(40000), 16000)
    assert isinstance(caught.value, OSError)
    assert original.read_bytes() == before
    assert_finished_song_kept(caught.value, target, tmp_path, 40000)


@pytest.mark.needs_broken_ffmpeg
def test_patched_save_names_where_the_finished_song_is_kept(unreplaceable_on_a_full_disk, tmp_path):
    import torchaudio

    target, original, before = unreplaceable_on_a_full_disk
    with pytest.raises(RuntimeError) as caught:
        torchaudio.save(target, song(40000), 16000)
    assert original.read_bytes() == before
    assert isinstance(caught.value.__cause__, destination.FinishedFileKept)
    assert caught.value.__cause__.filename2 in str(caught.value)
    assert_finished_song_kept(caught.value.__cause__, target, tmp_path, 40000)


@pytest.mark.parametrize("error, held", [
    (PermissionError(13, "Access is denied"), False),
    (FileNotFoundError(2, "The system cannot find the file specified"), False),
])
def test_only_windows_sharing_errors_count_as_held_open(error, held):
    assert destination.held_open_elsewhere(error) is held


@pytest.mark.parametrize("winerror, held", [(5, True), (32, True), (2, False), (183, False)])
def test_windows_access_denied_and_sharing_violation_count_as_held_open(winerror, held):
    """The Windows lane raises these for real (a reader without FILE_SHARE_DELETE); here only the
    ``winerror`` attribute that Windows CPython sets can be recorded onto the error."""
    error = PermissionError(13, "Access is denied")
    error.winerror = winerror
    assert destination.held_open_elsewhere(error) is held


# ---------------------------------------------------------------- interrupted saves (item 10)


@pytest.mark.parametrize("existing", [True, False])
def test_full_disk_leaves_the_destination_as_it_was_and_no_temporary(tmp_path, existing):
    mounts.require_root()
    with mounts.tmpfs(tmp_path, "64k"):
        path = tmp_path / "song.wav"
        if existing:
            codecs.encode(path, song(OLD_FRAMES), 16000)
        before = path.read_bytes() if existing else None
        with pytest.raises((OSError, RuntimeError)):
            codecs.encode(path, song(100000), 16000)
        assert names_in(tmp_path) == (["song.wav"] if existing else [])
        assert (path.read_bytes() if existing else None) == before


LONG_SAVE = r"""
import faulthandler, os, signal, sys, traceback
import torch
from acestep_winpatch import codecs

faulthandler.register(signal.SIGUSR1, all_threads=True)  # where each thread is, should it hang
# Ctrl-C as in a terminal, also where this suite was started in the background (a shell without
# job control starts background commands with SIGINT ignored, and children inherit that).
signal.signal(signal.SIGINT, signal.default_int_handler)
path = sys.argv[1]
codecs.encode(path, torch.zeros(2, 1000), 16000)
long_song = torch.rand(2, 16000 * 60 * 20) - 0.5
print("READY", flush=True)
try:
    while True:
        codecs.encode(path, long_song, 16000)
except KeyboardInterrupt:
    frames = [frame.name for frame in traceback.extract_tb(sys.exc_info()[2])]
    print("INTERRUPTED IN " + ("encode" if "encode" in frames else "the loop"), flush=True)
    print("LEFT " + " ".join(sorted(os.listdir(os.path.dirname(path)))), flush=True)
"""


def start_long_saves(tmp_path):
    """A child saving a long song over ``tmp_path/song.wav`` again and again; returned once it is
    writing one (its temporary exists)."""
    path = tmp_path / "song.wav"
    child = subprocess.Popen([sys.executable, "-c", LONG_SAVE, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "READY"
    while not any(TEMPORARY.match(name) and os.path.getsize(tmp_path / name) for name in os.listdir(tmp_path)):
        assert child.poll() is None, "the child ended before it began a save"
        time.sleep(0.001)  # polling, not timing: the save takes seconds
    return child, path


def test_ctrl_c_during_a_save_leaves_the_old_song_and_no_temporary(tmp_path):
    reference = tmp_path.parent / f"{tmp_path.name}-reference.wav"
    codecs.encode(reference, torch.zeros(2, 1000), 16000)
    child, path = start_long_saves(tmp_path)
    try:
        child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGUSR1)
        time.sleep(2)
        child.kill()
        output, stacks = child.communicate()
        pytest.fail(f"the save did not end within 120 s of Ctrl-C; stdout: {output!r}; its threads:\n{stacks[-8000:]}")
    finally:
        child.kill()
    assert "INTERRUPTED IN encode" in output, output
    assert "LEFT song.wav\n" in output, output
    assert names_in(tmp_path) == ["song.wav"]
    assert path.read_bytes() == reference.read_bytes()


def test_killed_save_leaves_the_old_song_and_a_recognisable_temporary(tmp_path):
    reference = tmp_path.parent / f"{tmp_path.name}-reference.wav"
    codecs.encode(reference, torch.zeros(2, 1000), 16000)
    child, path = start_long_saves(tmp_path)
    child.kill()
    child.wait(timeout=60)
    left = [name for name in names_in(tmp_path) if name != "song.wav"]
    assert len(left) == 1 and TEMPORARY.match(left[0]) and left[0].startswith(".song.wav."), left
    assert path.read_bytes() == reference.read_bytes()
