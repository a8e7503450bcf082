"""hypothesis: arbitrary bytes and arbitrary splits never raise anything but the project's protocol error."""

from __future__ import annotations

import contextlib
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptochat.engines import SoftwareEngine
from cryptochat.errors import ProtocolError, RemoteProtocolError
from cryptochat.wire.channel import Channel, DataReceived, Role
from cryptochat.wire.framing import FrameDecoder, encode_frame
from cryptochat.wire.messages import decode

ENGINE = SoftwareEngine()
KEY = bytes(32)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at ``cuts``; no empty pieces, since ``b""`` means end of stream to a channel."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(edges) if b > a]


def established() -> tuple[Channel, Channel]:
    client = Channel(Role.CLIENT, KEY, ENGINE)
    server = Channel(Role.SERVER, KEY, ENGINE)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    return client, server


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=8), st.lists(st.integers(min_value=0), max_size=12))
def test_frame_decoder_reassembles_any_split(bodies: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(b) for b in bodies)
    decoder = FrameDecoder(max_size=1000)
    out = [f for chunk in split(stream, cuts) for f in decoder.feed(chunk)]
    assert out == bodies
    decoder.check_eof()


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=10))
def test_frame_decoder_on_garbage_raises_only_remote_errors(chunks: list[bytes]) -> None:
    decoder = FrameDecoder(max_size=256)
    try:
        for chunk in chunks:
            decoder.feed(chunk)
        decoder.check_eof()
    except RemoteProtocolError:
        pass


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=6))
def test_server_channel_on_garbage_raises_only_protocol_errors(chunks: list[bytes]) -> None:
    server = Channel(Role.SERVER, KEY, ENGINE)
    try:
        for chunk in [*chunks, b""]:
            server.receive_data(chunk)
    except ProtocolError:
        pass


@FUZZ
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=5))
def test_established_channel_on_garbage_raises_only_protocol_errors(junk: bytes, prefix: int) -> None:
    client, server = established()
    # Some valid records first, so the garbage lands mid-stream rather than at sequence 0.
    for i in range(prefix):
        client.send(b"valid %d" % i)
    try:
        server.receive_data(client.data_to_send() + junk)
        server.receive_data(b"")
    except ProtocolError:
        pass


@FUZZ
@given(
    st.lists(st.binary(max_size=2000), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_channel_reassembles_any_split_of_a_valid_stream(payloads: list[bytes], cuts: list[int]) -> None:
    client = Channel(Role.CLIENT, KEY, ENGINE)
    server = Channel(Role.SERVER, KEY, ENGINE)
    for chunk in split(client.data_to_send(), cuts):
        server.receive_data(chunk)
    for chunk in split(server.data_to_send(), cuts):
        client.receive_data(chunk)
    for payload in payloads:
        client.send(payload)
    got = [
        e.data
        for chunk in split(client.data_to_send(), cuts)
        for e in server.receive_data(chunk)
        if isinstance(e, DataReceived)
    ]
    assert got == payloads


@FUZZ
@given(st.binary(max_size=300))
def test_message_decoder_on_garbage_raises_only_remote_errors(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        decode(data)
