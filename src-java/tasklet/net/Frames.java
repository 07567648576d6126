package tasklet.net;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;

/**
 * Encodes frames into {@link ByteBuf}s: {@code [u32 length][u8 type][payload]}, length
 * counting the type byte and the payload. The inverse of {@link FrameDecoder}.
 *
 * <p>Small payloads are copied into one buffer; payloads above {@link #COPY_LIMIT} bytes
 * are wrapped, not copied, so the caller must not change the array after handing it
 * over. All methods are pure: any thread.
 */
public final class Frames {
  /** Header size: the length field and the type byte. */
  public static final int HEADER_BYTES = 5;
  /** Payloads up to this size are copied; larger ones are wrapped without a copy. */
  static final int COPY_LIMIT = 8 * 1024;

  private Frames() {}

  /**
   * Encodes one frame. The result is owned by the caller (write it or release it). The
   * type is not checked here: encoding an invalid frame is how tests make bad input.
   * Any thread.
   */
  public static ByteBuf encode(ByteBufAllocator alloc, int type, byte[] payload) {
    int n = payload.length;
    if (n > COPY_LIMIT) {
      ByteBuf header = alloc.buffer(HEADER_BYTES);
      header.writeInt(n + 1).writeByte(type);
      return Unpooled.wrappedBuffer(header, Unpooled.wrappedBuffer(payload));
    }
    ByteBuf buf = alloc.buffer(HEADER_BYTES + n);
    return buf.writeInt(n + 1).writeByte(type).writeBytes(payload);
  }

  /** Encodes one frame into a fresh array, for tests and raw sockets. Any thread. */
  public static byte[] encodeToArray(int type, byte[] payload) {
    byte[] out = new byte[HEADER_BYTES + payload.length];
    int n = payload.length + 1;
    out[0] = (byte) (n >>> 24);
    out[1] = (byte) (n >>> 16);
    out[2] = (byte) (n >>> 8);
    out[3] = (byte) n;
    out[4] = (byte) type;
    System.arraycopy(payload, 0, out, HEADER_BYTES, payload.length);
    return out;
  }

  /** Payload of a TICK frame: the load as a big-endian long. Any thread. */
  static byte[] tick(long load) {
    byte[] b = new byte[8];
    for (int i = 7; i >= 0; i--) {
      b[i] = (byte) load;
      load >>>= 8;
    }
    return b;
  }

  /** Reads a TICK payload; a malformed one yields -1. Any thread. */
  static long tickLoad(byte[] p) {
    if (p.length != 8) {
      return -1;
    }
    long v = 0;
    for (byte x : p) {
      v = (v << 8) | (x & 0xFF);
    }
    return v;
  }

  /** Payload of a CLOSE frame: code byte, then the reason in UTF-8. Any thread. */
  static byte[] close(int code, String reason) {
    byte[] r = reason.getBytes(StandardCharsets.UTF_8);
    int len = Math.min(r.length, 1024); // a reason is for logs; keep it short
    byte[] b = new byte[1 + len];
    b[0] = (byte) code;
    System.arraycopy(r, 0, b, 1, len);
    return b;
  }

  /** The code of a CLOSE payload ({@link FrameType#CLOSE_ERROR} if empty). Any thread. */
  static int closeCode(byte[] p) {
    return p.length == 0 ? FrameType.CLOSE_ERROR : p[0] & 0xFF;
  }

  /** The reason of a CLOSE payload. Any thread. */
  static String closeReason(byte[] p) {
    return p.length <= 1 ? "" : new String(p, 1, p.length - 1, StandardCharsets.UTF_8);
  }
}
