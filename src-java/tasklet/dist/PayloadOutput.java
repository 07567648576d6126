package tasklet.dist;

import java.io.DataOutput;
import java.io.OutputStream;
import java.io.UTFDataFormatException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A payload being written: an unsynchronised, growable byte array that is
 * both a {@link DataOutput} and an {@link OutputStream}, so the codec writes
 * its fast-path terms straight into it and hands the same object to Nippy
 * (and Nippy to an {@code ObjectOutputStream}) for everything else.
 *
 * <p>Why not {@code DataOutputStream} over a {@code ByteArrayOutputStream}:
 * every write of the latter is a synchronised call through two streams, and
 * its array starts small and grows by copies; a remote send of a small
 * message spent a quarter of its encoding time there (JFR, W6). One is reused
 * per platform thread by the codec ({@link #reset}), so a send allocates only
 * its result ({@link #toByteArray}).
 *
 * <p>One thread at a time (the encoding one).
 */
public final class PayloadOutput extends OutputStream implements DataOutput {
  /** A buffer grown past this is not kept for reuse. */
  public static final int KEEP_BYTES = 64 * 1024;

  private byte[] buf;
  private int n;            // bytes written
  private boolean claimed;  // a kept buffer in use: a nested encode takes a fresh one

  /** An empty payload with room for {@code capacity} bytes before it grows. */
  public PayloadOutput(int capacity) { buf = new byte[Math.max(16, capacity)]; }

  /** Forgets what was written. */
  public void reset() { n = 0; }

  /** Takes a kept buffer for one payload, emptied; false if it is in use already. */
  public boolean claim() {
    if (claimed) return false;
    claimed = true;
    n = 0;
    return true;
  }

  /** Gives a claimed buffer back. */
  public void release() { claimed = false; }

  /** Bytes written so far. */
  public int size() { return n; }

  /** Whether this buffer is small enough to keep for the next payload. */
  public boolean reusable() { return buf.length <= KEEP_BYTES; }

  /** A copy of the bytes written. */
  public byte[] toByteArray() { return Arrays.copyOf(buf, n); }

  private void room(int k) {
    if (n + k > buf.length) {
      int want = Math.max(n + k, buf.length * 2);
      if (want < 0) throw new OutOfMemoryError("payload over 2 GiB");
      buf = Arrays.copyOf(buf, want);
    }
  }

  @Override public void write(int b) {
    room(1);
    buf[n++] = (byte) b;
  }

  @Override public void write(byte[] b) { write(b, 0, b.length); }

  @Override public void write(byte[] b, int off, int len) {
    room(len);
    System.arraycopy(b, off, buf, n, len);
    n += len;
  }

  @Override public void writeBoolean(boolean v) { write(v ? 1 : 0); }

  @Override public void writeByte(int v) { write(v); }

  @Override public void writeShort(int v) {
    room(2);
    buf[n] = (byte) (v >>> 8);
    buf[n + 1] = (byte) v;
    n += 2;
  }

  @Override public void writeChar(int v) { writeShort(v); }

  @Override public void writeInt(int v) {
    room(4);
    buf[n] = (byte) (v >>> 24);
    buf[n + 1] = (byte) (v >>> 16);
    buf[n + 2] = (byte) (v >>> 8);
    buf[n + 3] = (byte) v;
    n += 4;
  }

  @Override public void writeLong(long v) {
    room(8);
    for (int i = 7; i >= 0; i--) {
      buf[n + i] = (byte) v;
      v >>>= 8;
    }
    n += 8;
  }

  @Override public void writeFloat(float v) { writeInt(Float.floatToIntBits(v)); }

  @Override public void writeDouble(double v) { writeLong(Double.doubleToLongBits(v)); }

  @Override public void writeBytes(String s) {
    int len = s.length();
    room(len);
    for (int i = 0; i < len; i++) buf[n + i] = (byte) s.charAt(i);
    n += len;
  }

  @Override public void writeChars(String s) {
    for (int i = 0; i < s.length(); i++) writeShort(s.charAt(i));
  }

  /** DataOutput's modified UTF-8 with its u16 length, as {@code DataOutputStream} writes it. */
  @Override public void writeUTF(String s) throws UTFDataFormatException {
    int len = s.length();
    int bytes = len;
    for (int i = 0; i < len; i++) {
      char c = s.charAt(i);
      if (c >= 0x80 || c == 0) bytes += c >= 0x800 ? 2 : 1;
    }
    if (bytes > 65535) throw new UTFDataFormatException("encoded string too long: " + bytes + " bytes");
    room(2 + bytes);
    buf[n++] = (byte) (bytes >>> 8);
    buf[n++] = (byte) bytes;
    for (int i = 0; i < len; i++) {
      char c = s.charAt(i);
      if (c < 0x80 && c != 0) {
        buf[n++] = (byte) c;
      } else if (c < 0x800) {
        buf[n++] = (byte) (0xC0 | (c >> 6));
        buf[n++] = (byte) (0x80 | (c & 0x3F));
      } else {
        buf[n++] = (byte) (0xE0 | (c >> 12));
        buf[n++] = (byte) (0x80 | ((c >> 6) & 0x3F));
        buf[n++] = (byte) (0x80 | (c & 0x3F));
      }
    }
  }

  /**
   * The UTF-8 length of {@code s} if it is all ASCII (then {@link #writeAscii}
   * writes it), else -1.
   */
  public static int asciiLength(String s) {
    int len = s.length();
    for (int i = 0; i < len; i++) {
      if (s.charAt(i) >= 0x80) return -1;
    }
    return len;
  }

  /** Writes an all-ASCII {@code s} (see {@link #asciiLength}) as its UTF-8 bytes, no length. */
  public void writeAscii(String s) {
    int len = s.length();
    room(len);
    for (int i = 0; i < len; i++) buf[n + i] = (byte) s.charAt(i);
    n += len;
  }

  /** The UTF-8 bytes of {@code s} (for a string that is not all ASCII). */
  public static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }
}
