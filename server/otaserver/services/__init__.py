"""Use cases of the firmware service. They reach storage and blobs only through `ports`."""
