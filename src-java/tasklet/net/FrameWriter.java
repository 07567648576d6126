package tasklet.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelPromise;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.Attribute;
import io.netty.util.AttributeKey;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Every frame written to one channel goes through its writer, from any thread: a frame
 * sent when nothing is queued ahead of it, and not in a stream of sends, is written to the
 * socket by the sending thread itself; everything else is staged here and handed to the
 * pipeline in batches, one flush per batch.
 *
 * <p>Why direct: a frame handed to the pipeline from a worker thread is a task for the
 * event loop, and waking a sleeping event loop costs an OS wake-up, about 20 µs on a
 * virtual machine. A remote request/reply pays that on each side; Erlang's schedulers
 * write to their sockets themselves. Why batches: a stream of sends (another within
 * {@link #STREAM_NANOS}) handed over one frame at a time cost the sender a buffer, a
 * write task, a promise and a listener per frame (a quarter of a W6 sender's samples,
 * JFR). Staged, a frame is copied into the connection's open batch buffer under the
 * lock; the first frame of a batch submits one drain task, which hands everything staged
 * to the pipeline and flushes once (ADR 0010).
 *
 * <p>Nothing is left unflushed: a frame is staged only while a drain is submitted and has
 * not yet taken it (the drain takes the batch under the same lock), or it was written
 * directly. A partial direct write (socket buffer full) stages the rest.
 *
 * <p>Order: frames reach the socket in the order their calls took the lock, and never
 * interleave. {@link #queued} counts buffers handed to the pipeline and not yet written
 * out (the write promise completes after the last byte went to the socket); a direct
 * write happens only while nothing is staged, no drain is submitted and that count is
 * zero, so it never overtakes a staged or queued frame nor races the event loop's own
 * write. Direct writes only for epoll channels without TLS (a TLS record must go through
 * the SslHandler).
 *
 * <p>Bounded: {@link #staged} bytes count against the channel's high-water mark (see
 * {@link #writable}), as Netty counts a write handed over from another thread at once;
 * they move into the channel's own count when drained.
 */
final class FrameWriter {
  /**
   * A send within this long of the previous one on the channel is part of a stream. 5 µs:
   * a tight loop of sends (W6: one every 0.6 µs) stays batched, while a request/reply's
   * sends (W5: 20-40 µs apart, the fastest under 20 µs) go direct; at 20 µs a quarter of
   * W5's sends took the event loop and W5 ran 21-24k round trips/s against 37-51k (ADR 0010).
   */
  static final long STREAM_NANOS = 5_000L;
  /** Capacity of a batch buffer; a frame that does not fit seals the batch and opens the next. */
  static final int BATCH_BYTES = 16 * 1024;
  /** Tries of the lock before a thread parks on it (see {@link #lock()}). */
  private static final int SPINS = 200;
  private static final AttributeKey<FrameWriter> KEY = AttributeKey.valueOf("tasklet.net.FrameWriter");
  private static final LongAdder DIRECT = new LongAdder();
  private static final LongAdder DRAINS = new LongAdder();
  private static final LongAdder BATCHED = new LongAdder();

  private record Sealed(ByteBuf buf, ChannelPromise promise) {}  // promise null: nobody waits

  private final Channel ch;
  private final FileDescriptor fd;          // null: never direct
  private final ReentrantLock lock = new ReentrantLock();
  private final Runnable drainTask = this::drain;
  /**
   * Buffers handed to the pipeline, not yet written: raised under the lock (by the drain,
   * before it hands them over), lowered by {@link #written} on the loop. Zero, read under
   * the lock, means every buffer drained before is in the socket.
   */
  private final AtomicInteger queued = new AtomicInteger();
  // no lock: a listener per written buffer that took the lock contended with the sender
  // appending frames, parked the event loop and made the sender's unlock a kernel wake-up
  private final ChannelFutureListener written = f -> queued.decrementAndGet();
  // all under lock
  private ByteBuf open;                     // the batch being filled, or null; kept after a direct write
  private ArrayDeque<Sealed> sealed = new ArrayDeque<>();  // staged ahead of open, in order
  private boolean drainSubmitted;           // a drain task is on the event loop's queue
  private long lastSend;
  private volatile long staged;             // bytes staged, not yet handed to the pipeline
  private boolean draining;                 // event loop only: a drain is under way

  private FrameWriter(Channel ch) {
    this.ch = ch;
    this.fd = ch instanceof EpollSocketChannel e && ch.pipeline().get(SslHandler.class) == null
        ? e.fd() : null;
  }

  /** The channel's writer, made on first use. Any thread. */
  static FrameWriter of(Channel ch) {
    Attribute<FrameWriter> a = ch.attr(KEY);
    FrameWriter w = a.get();
    if (w == null) {
      FrameWriter made = new FrameWriter(ch);
      w = a.setIfAbsent(made);
      if (w == null) {
        w = made;
      }
    }
    return w;
  }

  /** Frames written straight to a socket by their sending thread, in this JVM. */
  static long directWrites() {
    return DIRECT.sum();
  }

  /** Drains that handed staged frames to a pipeline, in this JVM. */
  static long drains() {
    return DRAINS.sum();
  }

  /** Frames staged into a batch buffer (not written directly), in this JVM. */
  static long batchedFrames() {
    return BATCHED.sum();
  }

  /**
   * Whether a sender may go on: the channel is writable and the bytes staged here stay
   * under its high-water mark. Any thread.
   */
  boolean writable() {
    return ch.isWritable() && staged < ch.config().getWriteBufferHighWaterMark();
  }

  /**
   * Writes the frame {@code [len][type][payload]}, copying the payload (up to
   * {@link Frames#COPY_LIMIT}; a larger one is wrapped, and must not change afterwards).
   * Any thread.
   */
  void send(int type, byte[] payload) {
    int need = Frames.HEADER_BYTES + payload.length;
    boolean loop = ch.eventLoop().inEventLoop();
    lock();
    try {
      boolean direct = directNow(loop);
      if (payload.length > Frames.COPY_LIMIT) {
        stage(Frames.encode(ch.alloc(), type, payload), null);
      } else {
        if (open != null && open.writableBytes() < need) {
          seal();
        }
        if (open == null) {
          open = ch.alloc().directBuffer(Math.max(BATCH_BYTES, need));
        }
        open.writeInt(payload.length + 1).writeByte(type).writeBytes(payload);
        if (direct && open.hasMemoryAddress()) {
          if (tryDirect(open)) {
            return;
          }
          staged += open.readableBytes();   // open was empty: what is left of this frame
        } else {
          staged += need;
        }
        BATCHED.increment();
      }
      submitDrain(loop);
    } finally {
      lock.unlock();
    }
    if (loop) {
      drain();
    }
  }

  /**
   * Writes {@code frame} (taking ownership of it). The future completes once it is
   * written, or failed. Any thread.
   */
  ChannelFuture write(ByteBuf frame) {
    boolean loop = ch.eventLoop().inEventLoop();
    ChannelPromise p = ch.newPromise();
    lock();
    try {
      if (directNow(loop) && frame.hasMemoryAddress() && tryDirect(frame)) {
        frame.release();
        return ch.newSucceededFuture();
      }
      stage(frame, p);
      submitDrain(loop);
    } finally {
      lock.unlock();
    }
    if (loop) {
      drain();
    }
    return p;
  }

  /**
   * Takes the lock, spinning briefly first: it is held for a copy of a few hundred bytes
   * at most (or one direct write), so a thread that found it taken gets it within a
   * microsecond unless the holder was descheduled. Parking at once, as ReentrantLock does,
   * put the event loop to sleep behind the sender about once per drain, and each
   * unlock then paid a kernel wake-up (a fifth of a W6 sender's samples, JFR).
   */
  private void lock() {
    for (int i = 0; i < SPINS; i++) {
      if (lock.tryLock()) {
        return;
      }
      Thread.onSpinWait();
    }
    lock.lock();
  }

  /** Under lock: whether this call may write to the socket itself; records the send time. */
  private boolean directNow(boolean loop) {
    long now = System.nanoTime();
    boolean stream = now - lastSend < STREAM_NANOS;
    lastSend = now;
    return fd != null && !loop && !stream && queued.get() == 0 && !drainSubmitted && sealed.isEmpty()
        && (open == null || !open.isReadable());
  }

  /**
   * Under lock: writes {@code buf}'s readable bytes to the socket; true if all went. A
   * partial write leaves the rest readable in {@code buf} (the caller stages it).
   */
  private boolean tryDirect(ByteBuf buf) {
    int len = buf.readableBytes();
    try {
      int n = fd.writeAddress(buf.memoryAddress(), buf.readerIndex(), buf.writerIndex());
      if (n == len) {
        DIRECT.increment();
        if (buf == open) {
          open.clear();
        }
        return true;
      }
      buf.skipBytes(n);   // the socket buffer is full: the pipeline writes the rest
    } catch (IOException e) {
      // the pipeline's write fails the same way and closes the channel
    }
    return false;
  }

  /** Under lock: stages {@code buf} behind everything staged before it. */
  private void stage(ByteBuf buf, ChannelPromise p) {
    seal();
    sealed.add(new Sealed(buf, p));
    staged += buf.readableBytes();
  }

  /** Under lock: moves the open batch, if it holds anything, behind the sealed ones. */
  private void seal() {
    if (open != null && open.isReadable()) {
      sealed.add(new Sealed(open, null));
      open = null;
    }
  }

  /** Under lock: makes sure a drain will take what is staged (the caller drains if on the loop). */
  private void submitDrain(boolean loop) {
    if (drainSubmitted || loop) {
      return;
    }
    try {
      ch.eventLoop().execute(drainTask);
      drainSubmitted = true;
    } catch (RejectedExecutionException e) {
      discard();  // the event loop is gone: the channel is closed, nothing can be written
    }
  }

  /** Under lock: releases everything staged (the channel can no longer write it). */
  private void discard() {
    seal();
    for (Sealed s : sealed) {
      s.buf().release();
      if (s.promise() != null) {
        s.promise().tryFailure(new java.nio.channels.ClosedChannelException());
      }
    }
    sealed.clear();
    staged = 0;
  }

  /**
   * Hands everything staged to the pipeline and flushes once. Event loop only; ends
   * with nothing staged. A send made while it writes (a listener or a writability
   * callback on the loop) is staged and taken by this same drain, behind the rest.
   */
  private void drain() {
    if (draining) {
      return;
    }
    draining = true;
    try {
      boolean wrote = false;
      for (;;) {
        ArrayDeque<Sealed> batch;
        lock();
        try {
          drainSubmitted = false;
          seal();
          if (sealed.isEmpty()) {
            break;
          }
          batch = sealed;
          sealed = new ArrayDeque<>();
          staged = 0;
          queued.addAndGet(batch.size());
        } finally {
          lock.unlock();
        }
        wrote = true;
        for (Sealed s : batch) {
          ChannelPromise p = s.promise() != null ? s.promise() : ch.newPromise();
          p.addListener(written);
          ch.write(s.buf(), p);
        }
      }
      if (wrote) {
        DRAINS.increment();
        ch.flush();
      }
    } finally {
      draining = false;
    }
  }
}
