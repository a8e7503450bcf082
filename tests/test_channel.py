"""The secure channel between two in-memory peers: handshake, records, and every attack the issue lists."""

from __future__ import annotations

import pytest
from conftest import KEY, OTHER_KEY

from cryptochat.engines import Engine
from cryptochat.errors import (
    AuthenticationError,
    IntegrityError,
    LocalProtocolError,
    RemoteProtocolError,
    SequenceError,
    VersionMismatch,
)
from cryptochat.wire.channel import (
    Channel,
    CloseReceived,
    ConnectionClosed,
    DataReceived,
    HandshakeComplete,
    Role,
    State,
)
from cryptochat.wire.framing import HEADER_SIZE, FrameDecoder, encode_frame
from cryptochat.wire.records import RECORD_OVERHEAD, max_plaintext_for_frame

MAX = max_plaintext_for_frame(64 * 1024)


def frames(wire: bytes) -> list[bytes]:
    return FrameDecoder().feed(wire)


def record(sender: Channel, plaintext: bytes) -> bytes:
    sender.send(plaintext)
    return sender.data_to_send()


# ---------------------------------------------------------------- handshake


def test_handshake_completes_on_both_sides(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    server = Channel(Role.SERVER, KEY, engine)
    assert server.receive_data(client.data_to_send()) == []
    assert server.state is State.AWAIT_CLIENT_FINISHED
    assert client.receive_data(server.data_to_send()) == [HandshakeComplete()]
    assert server.receive_data(client.data_to_send()) == [HandshakeComplete()]
    assert client.state is server.state is State.ESTABLISHED


def test_client_data_right_after_its_finished_arrives_in_the_same_read(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    server = Channel(Role.SERVER, KEY, engine)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    client.send(b"hello")
    assert server.receive_data(client.data_to_send()) == [HandshakeComplete(), DataReceived(b"hello")]


def test_wrong_key_fails_the_handshake_on_both_ends(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    server = Channel(Role.SERVER, OTHER_KEY, engine)
    server.receive_data(client.data_to_send())
    with pytest.raises(AuthenticationError, match="the server does not hold the same key"):
        client.receive_data(server.data_to_send())
    with pytest.raises(AuthenticationError, match="the client does not hold the same key"):
        server.receive_data(client.data_to_send())
    assert client.state is server.state is State.ERROR


def test_server_confirmation_reflected_as_client_finished_fails(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    server = Channel(Role.SERVER, KEY, engine)
    server.receive_data(client.data_to_send())
    server_hello = frames(server.data_to_send())[0]
    reflected = server_hello[:6].replace(b"\x02", b"\x03") + server_hello[-32:]
    with pytest.raises(AuthenticationError):
        server.receive_data(encode_frame(reflected))


def test_server_hello_reflected_to_the_server_fails(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    server = Channel(Role.SERVER, KEY, engine)
    server.receive_data(client.data_to_send())
    with pytest.raises(RemoteProtocolError, match="unexpected"):
        server.receive_data(server.data_to_send())


def test_client_hello_reflected_to_the_client_fails(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    with pytest.raises(RemoteProtocolError, match="unexpected"):
        client.receive_data(client.data_to_send())


def test_replayed_client_handshake_fails_against_a_fresh_server(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    server = Channel(Role.SERVER, KEY, engine)
    hello = client.data_to_send()
    server.receive_data(hello)
    client.receive_data(server.data_to_send())
    finished = client.data_to_send()
    replay_target = Channel(Role.SERVER, KEY, engine)
    replay_target.receive_data(hello)
    with pytest.raises(AuthenticationError):
        replay_target.receive_data(finished)


def test_a_record_reflected_back_to_its_sender_fails(pair: tuple[Channel, Channel]) -> None:
    client, _ = pair
    with pytest.raises(IntegrityError):
        client.receive_data(record(client, b"mine"))


def test_garbage_before_the_handshake_is_a_remote_error(engine: Engine) -> None:
    server = Channel(Role.SERVER, KEY, engine)
    with pytest.raises(RemoteProtocolError, match="does not speak the cryptochat protocol"):
        server.receive_data(encode_frame(b"hello, is this the chat?"))
    assert server.state is State.ERROR


def test_an_http_request_is_rejected_by_its_length(engine: Engine) -> None:
    server = Channel(Role.SERVER, KEY, engine)
    with pytest.raises(RemoteProtocolError, match="exceeds the maximum"):
        server.receive_data(b"GET / HTTP/1.1\r\n\r\n")


def test_version_mismatch_is_reported_to_both_sides(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    hello = bytearray(frames(client.data_to_send())[0])
    hello[4] = 99
    server = Channel(Role.SERVER, KEY, engine)
    with pytest.raises(VersionMismatch, match="client speaks protocol version 99"):
        server.receive_data(encode_frame(bytes(hello)))
    reject = bytearray(frames(server.data_to_send())[0])
    reject[4] = 2  # as a future server would answer this client
    with pytest.raises(VersionMismatch, match="server speaks protocol version 2"):
        client.receive_data(encode_frame(bytes(reject)))


def test_low_order_key_share_is_rejected(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    hello = frames(client.data_to_send())[0]
    server = Channel(Role.SERVER, KEY, engine)
    with pytest.raises(RemoteProtocolError, match="invalid X25519"):
        server.receive_data(encode_frame(hello[:-32] + bytes(32)))


def test_handshake_message_with_bad_length_is_rejected(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    hello = frames(client.data_to_send())[0]
    with pytest.raises(RemoteProtocolError, match="bad length"):
        Channel(Role.SERVER, KEY, engine).receive_data(encode_frame(hello + b"x"))


def test_eof_during_the_handshake_is_an_error(engine: Engine) -> None:
    server = Channel(Role.SERVER, KEY, engine)
    with pytest.raises(RemoteProtocolError, match="during the handshake"):
        server.receive_data(b"")


def test_sending_before_the_handshake_is_a_local_error(engine: Engine) -> None:
    client = Channel(Role.CLIENT, KEY, engine)
    with pytest.raises(LocalProtocolError):
        client.send(b"too early")


def test_a_failed_channel_refuses_further_use(engine: Engine) -> None:
    server = Channel(Role.SERVER, KEY, engine)
    with pytest.raises(RemoteProtocolError):
        server.receive_data(encode_frame(b"junk"))
    with pytest.raises(LocalProtocolError, match="already failed"):
        server.receive_data(b"more")


def test_psk_must_be_32_bytes(engine: Engine) -> None:
    with pytest.raises(ValueError):
        Channel(Role.CLIENT, b"short", engine)


# ---------------------------------------------------------------- records


SIZES = sorted(
    {*range(0, 258), *(n + d for n in (511, 1024, 4096, 16384, 32768) for d in (-1, 0, 1)), MAX - 1, MAX}
)


def test_round_trip_of_every_size_up_to_the_maximum(pair: tuple[Channel, Channel]) -> None:
    client, server = pair
    for size in SIZES:
        data = bytes(i % 251 for i in range(size))
        assert server.receive_data(record(client, data)) == [DataReceived(data)]
        assert client.receive_data(record(server, data)) == [DataReceived(data)]


def test_the_largest_record_fills_the_largest_frame(pair: tuple[Channel, Channel]) -> None:
    client, _ = pair
    wire = record(client, b"x" * MAX)
    assert len(wire) - HEADER_SIZE <= 64 * 1024
    assert len(wire) - HEADER_SIZE > 64 * 1024 - RECORD_OVERHEAD - 16


def test_a_record_over_the_maximum_is_a_local_error(pair: tuple[Channel, Channel]) -> None:
    client, _ = pair
    with pytest.raises(LocalProtocolError, match="exceeds the maximum"):
        client.send(b"x" * (MAX + 1))


def test_ciphertext_containing_zero_bytes_decrypts_intact(pair: tuple[Channel, Channel]) -> None:
    # Seed defect 1: the seed copied ciphertext up to its first 0x00 byte.
    client, server = pair
    data = b"zero bytes \x00 inside \x00\x00 too"
    for _ in range(64):
        wire = record(client, data)
        assert server.receive_data(wire) == [DataReceived(data)]
        if b"\x00" in wire[HEADER_SIZE + 26 : -32]:
            return
    pytest.fail("no ciphertext with a zero byte in 64 records")


def test_repeated_plaintext_never_repeats_ciphertext(pair: tuple[Channel, Channel]) -> None:
    # Seed defect 3: a static IV made equal lines encrypt equally.
    client, _ = pair
    bodies = [frames(record(client, b"same line"))[0] for _ in range(50)]
    assert len({body[10:-32] for body in bodies}) == 50  # IV and ciphertext
    assert len({body[26:-32] for body in bodies}) == 50  # ciphertext alone


REGIONS = {"header": 0, "seq": 5, "iv": 12, "ciphertext": 40, "tag": -1}


@pytest.mark.parametrize("region", REGIONS)
def test_tampering_with_any_region_of_a_record_is_detected(
    pair: tuple[Channel, Channel], region: str
) -> None:
    client, server = pair
    body = bytearray(frames(record(client, b"attack at dawn" * 3))[0])
    body[REGIONS[region]] ^= 0x01
    with pytest.raises(IntegrityError, match="failed authentication"):
        server.receive_data(encode_frame(bytes(body)))
    assert server.state is State.ERROR


def test_replayed_record_is_rejected(pair: tuple[Channel, Channel]) -> None:
    client, server = pair
    wire = record(client, b"pay 10 euros")
    server.receive_data(wire)
    with pytest.raises(SequenceError, match="replayed or reordered"):
        server.receive_data(wire)


def test_reordered_records_are_rejected(pair: tuple[Channel, Channel]) -> None:
    client, server = pair
    first, second = record(client, b"one"), record(client, b"two")
    with pytest.raises(SequenceError, match="missing"):
        server.receive_data(second + first)


def test_dropped_record_is_detected_at_the_next_one(pair: tuple[Channel, Channel]) -> None:
    client, server = pair
    record(client, b"dropped")
    with pytest.raises(SequenceError, match=r"record 1 out of sequence, expected 0"):
        server.receive_data(record(client, b"after"))


def test_truncated_record_then_eof_is_an_error(pair: tuple[Channel, Channel]) -> None:
    client, server = pair
    wire = record(client, b"cut short")
    assert server.receive_data(wire[:-7]) == []
    with pytest.raises(RemoteProtocolError, match="middle of a frame"):
        server.receive_data(b"")


def test_record_with_impossible_length_is_rejected(pair: tuple[Channel, Channel]) -> None:
    _, server = pair
    with pytest.raises(RemoteProtocolError, match="malformed record"):
        server.receive_data(encode_frame(b"\x17\x01" + bytes(60)))


def test_oversize_frame_length_after_the_handshake_is_rejected(pair: tuple[Channel, Channel]) -> None:
    _, server = pair
    with pytest.raises(RemoteProtocolError, match="exceeds the maximum"):
        server.receive_data((64 * 1024 + 1).to_bytes(4, "big"))


def test_close_is_authenticated_and_both_sides_end_clean(pair: tuple[Channel, Channel]) -> None:
    client, server = pair
    client.close()
    assert server.receive_data(client.data_to_send()) == [CloseReceived()]
    server.send(b"last words")
    server.close()
    assert client.receive_data(server.data_to_send()) == [DataReceived(b"last words"), CloseReceived()]
    assert client.state is server.state is State.CLOSED
    assert client.receive_data(b"") == [ConnectionClosed(clean=True)]


def test_eof_without_close_is_reported_as_unclean(pair: tuple[Channel, Channel]) -> None:
    _, server = pair
    assert server.receive_data(b"") == [ConnectionClosed(clean=False)]


def test_sending_after_close_is_a_local_error(pair: tuple[Channel, Channel]) -> None:
    client, _ = pair
    client.close()
    with pytest.raises(LocalProtocolError):
        client.send(b"late")


def test_record_after_the_peers_close_is_rejected(pair: tuple[Channel, Channel]) -> None:
    client, server = pair
    client.close()
    wire = client.data_to_send()
    server.receive_data(wire)
    with pytest.raises(RemoteProtocolError, match="after the peer's CLOSE"):
        server.receive_data(wire)
