"""Keeping the image being downloaded, and the progress, in files (CPython and MicroPython)."""

import json
import os


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class FileStore:
    """`partial.bin` grows chunk by chunk; `progress.json` says how far it got, for a reboot."""

    def __init__(self, directory):
        self.directory = directory
        self.image = directory + "/partial.bin"
        self.progress_path = directory + "/progress.json"

    def write(self, offset, data):
        mode = "r+b" if _exists(self.image) else "wb"
        with open(self.image, mode) as file:
            file.seek(offset)
            file.write(data)

    def read(self, offset, length):
        with open(self.image, "rb") as file:
            file.seek(offset)
            return file.read(length)

    def discard(self):
        if _exists(self.image):
            os.remove(self.image)

    def save_progress(self, progress):
        if progress is None:
            if _exists(self.progress_path):
                os.remove(self.progress_path)
            return
        temporary = self.progress_path + ".tmp"
        with open(temporary, "w") as file:
            json.dump(progress, file)
        os.rename(temporary, self.progress_path)  # a reboot mid-write keeps the old progress

    def load_progress(self):
        if not _exists(self.progress_path):
            return None
        with open(self.progress_path) as file:
            return json.load(file)
