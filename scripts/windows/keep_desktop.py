"""Hold Wine's desktop for the whole Windows lane: keep_desktop.py READY_FILE STOP_FILE.

Wine starts its desktop process (explorer.exe) for the first program that needs it and ends it
when no program uses the desktop any more. The program that starts it hands it its inheritable
handles: when that is a test's child, explorer.exe keeps the child's output pipe open after the
child exits, and the test waits for that pipe's end for ever. Started before pytest, this
process starts the desktop with handles nobody waits on, and keeps it until STOP_FILE exists.
"""

import ctypes
import os
import sys
import time

ready, stop = sys.argv[1:3]
ctypes.windll.user32.GetDesktopWindow()  # returns once explorer.exe has made the desktop
open(ready, "w").close()
deadline = time.monotonic() + 2 * 3600  # a lane killed from outside leaves nothing behind for long
while not os.path.exists(stop) and time.monotonic() < deadline:
    time.sleep(1)
