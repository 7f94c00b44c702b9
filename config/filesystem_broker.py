"""
kombu's filesystem:// broker, made safe for a publisher and a consumer racing.

The stock transport creates the message file under its final `.msg` name and
then writes it, so a consumer polling at that moment can take an empty file
and crash on it (celery/kombu#1551). Here a message is written under a name
the consumer ignores and renamed into place: `rename` is atomic, so a `.msg`
file is always complete. Used only by the embedded default (no Redis).
"""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
