"""CPython installer: the image goes to the inactive slot, then a pointer switches atomically.

`<dir>/slot-a` and `<dir>/slot-b` hold images; `<dir>/current.json` names the active one and its
title and version. The new pointer is written beside the old and renamed over it, so a crash
leaves either the old image active or the new one, never half of either.
"""

import json
import os
import shutil


class SlotInstaller:
    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.pointer = os.path.join(directory, "current.json")

    def current(self):
        try:
            with open(self.pointer) as file:
                return json.load(file)
        except (OSError, ValueError):
            return {"slot": None, "title": None, "version": None}

    def active_image(self):
        slot = self.current()["slot"]
        return None if slot is None else os.path.join(self.directory, slot)

    def install(self, target, store):
        slot = "slot-b" if self.current()["slot"] == "slot-a" else "slot-a"
        path = os.path.join(self.directory, slot)
        try:
            shutil.copyfile(store.image, path + ".tmp")
            with open(path + ".tmp", "rb+") as file:
                os.fsync(file.fileno())
            os.replace(path + ".tmp", path)
            pointer = {"slot": slot, "title": target["title"], "version": target["version"]}
            with open(self.pointer + ".tmp", "w") as file:
                json.dump(pointer, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(self.pointer + ".tmp", self.pointer)
        except OSError as error:
            return False, "install failed: %s" % error
        store.discard()
        return True, None
