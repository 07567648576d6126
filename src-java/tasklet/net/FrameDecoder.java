package tasklet.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import java.util.List;

/**
 * Splits the inbound byte stream into {@link Frame}s and rejects bad streams early.
 *
 * <p>The length and type are checked as soon as their bytes arrive, before the body is
 * buffered: a length of 0 or above {@code maxFrameBytes}, or a type that is not
 * {@link FrameType#isKnown known}, raises a {@link CorruptedFrameException} (which the
 * {@link Session} turns into a logged close) and from then on every inbound byte is
 * discarded, so no frame is ever decoded from the rest of a bad stream. A stream that ends
 * inside a frame is recorded as {@link #truncation()} for the close reason.
 *
 * <p>One instance per channel; all methods run on the channel's event loop.
 */
public final class FrameDecoder extends ByteToMessageDecoder {
  private int maxFrameBytes;       // upper bound on the length field (type + payload)
  private boolean failed;          // a bad frame was seen: discard everything after it
  private String truncation;       // set when the stream ended inside a frame

  /** A decoder accepting frames whose length field is at most {@code maxFrameBytes}. */
  public FrameDecoder(int maxFrameBytes) {
    if (maxFrameBytes < 1) {
      throw new IllegalArgumentException("maxFrameBytes must be positive: " + maxFrameBytes);
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /**
   * Sets the bound on the length field from the next frame on: the Session raises it from
   * the handshake's bound once the peer has proved the cookie. Event loop only.
   */
  public void limit(int maxFrameBytes) {
    if (maxFrameBytes < 1) {
      throw new IllegalArgumentException("maxFrameBytes must be positive: " + maxFrameBytes);
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Why the stream ended inside a frame, or null if it did not. Event loop only. */
  public String truncation() {
    return truncation;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    int readable = in.readableBytes();
    if (readable < 4) {
      return;
    }
    int start = in.readerIndex();
    int length = in.getInt(start);
    if (length < 1 || length > maxFrameBytes) {
      fail(in, "frame length " + Integer.toUnsignedString(length) + " outside 1.." + maxFrameBytes);
    }
    if (readable < Frames.HEADER_BYTES) {
      return;
    }
    int type = in.getUnsignedByte(start + 4);
    if (!FrameType.isKnown(type)) {
      fail(in, "unknown frame type 0x" + Integer.toHexString(type));
    }
    if (readable - 4 < length) {
      return;
    }
    byte[] payload = new byte[length - 1];
    in.skipBytes(Frames.HEADER_BYTES);
    in.readBytes(payload);
    out.add(new Frame(type, payload));
  }

  @Override
  protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (in.isReadable()) {
      decode(ctx, in, out);
    }
    if (!failed && in.isReadable()) {
      truncation = "stream ended inside a frame (" + in.readableBytes() + " bytes pending)";
      in.skipBytes(in.readableBytes());
    }
  }

  private void fail(ByteBuf in, String reason) {
    failed = true;
    in.skipBytes(in.readableBytes());
    throw new CorruptedFrameException(reason);
  }
}
