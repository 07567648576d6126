(ns tasklet.net.codec-test
  "The frame codec on Netty's EmbeddedChannel: round trips, reassembly from arbitrary
  chunks, and every kind of bad stream (garbage, truncation, oversized length, unknown
  type), first on the bare FrameDecoder, then with a Session that must close the channel
  with a reason and deliver nothing."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.net.support :as s])
  (:import (io.netty.buffer ByteBuf ByteBufAllocator Unpooled)
           (io.netty.channel.embedded EmbeddedChannel)
           (io.netty.handler.codec CorruptedFrameException)
           (java.util Arrays Random)
           (tasklet.net Frame FrameDecoder Frames FrameType HandshakeException Transport)))

(set! *warn-on-reflection* true)

(use-fixtures :each s/release-embedded)

(defn- decoder-channel ^EmbeddedChannel [max-frame]
  (s/embedded (FrameDecoder. (int max-frame))))

(defn- inbound-frames [^EmbeddedChannel ch]
  (loop [out []]
    (if-let [^Frame f (.readInbound ch)]
      (recur (conj out [(.type f) (vec (.payload f))]))
      out)))

(defn- chunks
  "Splits b into pieces of random sizes 1..max-chunk."
  [^bytes b ^Random rnd max-chunk]
  (loop [i 0 out []]
    (if (>= i (alength b))
      out
      (let [n (min (- (alength b) i) (inc (.nextInt rnd (int max-chunk))))]
        (recur (+ i n) (conj out (Arrays/copyOfRange b (int i) (int (+ i n)))))))))

;; Frames encoded by Frames/encode decode to the same type and payload, whatever the
;; chunking of the stream, including payloads over the copy limit (wrapped, not copied).
(deftest round-trip
  (let [rnd (Random. 42)
        frames (vec (for [i (range 200)]
                      (let [n (case (int (mod i 4)) 0 0 1 1 2 (.nextInt rnd 300) 3 (+ 9000 (.nextInt rnd 5000)))
                            p (byte-array n)]
                        (.nextBytes rnd p)
                        [(+ FrameType/APP_MIN (mod i 0x70)) p])))
        stream (let [out (java.io.ByteArrayOutputStream.)]
                 (doseq [[t ^bytes p] frames]
                   (let [^ByteBuf b (Frames/encode ByteBufAllocator/DEFAULT (int t) p)
                         a (byte-array (.readableBytes b))]
                     (.readBytes b a)
                     (.release b)
                     (.write out a)))
                 (.toByteArray out))]
    (doseq [max-chunk [1 7 4096 (alength stream)]]
      (testing (str "chunks of up to " max-chunk " bytes")
        (let [ch (decoder-channel 65536)]
          (doseq [^bytes c (chunks stream rnd max-chunk)]
            (.writeInbound ch (object-array [(Unpooled/wrappedBuffer c)])))
          (is (= (mapv (fn [[t ^bytes p]] [t (vec p)]) frames) (inbound-frames ch)))
          (is (not (.finish ch))))))))

;; A length of 0, a length over the limit and an unknown type are rejected as soon as the
;; header arrives, and everything after is discarded (no frame decoded from the rest).
(deftest bad-headers
  (doseq [[what ^bytes bad msg]
          [["zero length" (byte-array [0 0 0 0]) "frame length 0"]
           ["oversized length" (byte-array [0 0 4 1 0x10]) "frame length 1025 outside 1..1024"]
           ["negative length" (byte-array [-1 -1 -1 -1]) "frame length 4294967295"]
           ["unknown type 0x80" (s/frame-bytes 0x80 (byte-array 3)) "unknown frame type 0x80"]
           ["unknown type 0x00" (s/frame-bytes 0x00 (byte-array 3)) "unknown frame type 0x0"]
           ["unreserved transport type 0x0f" (s/frame-bytes 0x0f (byte-array 0)) "unknown frame type 0xf"]]]
    (testing what
      (let [ch (decoder-channel 1024)
            good (s/frame-bytes 0x10 (byte-array [1 2 3]))]
        (.writeInbound ch (object-array [(Unpooled/wrappedBuffer good)]))
        (is (= [[0x10 [1 2 3]]] (inbound-frames ch)) "frames before the bad one still arrive")
        (let [^Throwable e (try (.writeInbound ch (object-array [(Unpooled/wrappedBuffer bad)])) nil
                                (catch CorruptedFrameException e e))]
          (is (instance? CorruptedFrameException e))
          (is (some-> e .getMessage (.contains ^String msg)) (some-> e .getMessage)))
        (.writeInbound ch (object-array [(Unpooled/wrappedBuffer good)]))
        (is (= [] (inbound-frames ch)) "nothing decodes after a bad frame")
        (.finish ch)))))

;; A stream that ends inside a frame yields no frame and records why.
(deftest truncated-frame-on-decoder
  (let [dec (FrameDecoder. 1024)
        ch (s/embedded dec)
        f (s/frame-bytes 0x10 (byte-array 100))]
    (.writeInbound ch (object-array [(Unpooled/wrappedBuffer f 0 50)]))
    (is (= [] (inbound-frames ch)))
    (.finish ch)
    (is (= "stream ended inside a frame (50 bytes pending)" (.truncation dec)))))

;; --------------------------------------------------------------- with a Session

(defn- attached
  "An EmbeddedChannel carrying a node's full pipeline, as the accepting side."
  [rec & cfg-opts]
  (let [t (Transport/unbound (apply s/config "alpha" "cookie" cfg-opts) (:endpoint rec))
        ch (s/embedded)
        f (.attach t ch false)]
    (.runPendingTasks ch)
    {:ch ch :outcome f :transport t}))

;; Garbage, an oversized length, an unknown type or a truncated frame close the channel
;; with a reason; the endpoint hears nothing (the peer was never connected).
(deftest bad-streams-close-the-connection
  (doseq [[what ^bytes bad msg]
          [["garbage" (.getBytes "GET / HTTP/1.1\r\nHost: x\r\n\r\n" "UTF-8") "bad frame: frame length"]
           ["oversized length" (byte-array [0x7f 0 0 0 0x10]) "outside 1..4096"]
           ["unknown type" (s/frame-bytes 0xff (byte-array 1)) "unknown frame type 0xff"]]]
    (testing what
      (let [rec (s/recorder)
            {:keys [^EmbeddedChannel ch outcome]} (attached rec :max-frame 4096)]
        (s/feed! ch bad)
        (is (not (.isOpen ch)))
        (let [[k ^Throwable e] (s/outcome outcome 0)]
          (is (= :error k))
          (is (instance? HandshakeException e))
          (is (.contains (.getMessage e) ^String msg) (.getMessage e)))
        (is (= [] (s/drain-events rec)))))))

(deftest truncated-frame-then-close
  (let [rec (s/recorder)
        {:keys [^EmbeddedChannel ch outcome]} (attached rec)]
    (s/feed! ch (Arrays/copyOf (s/hello-bytes "beta" 1 "x:1" (byte-array 32)) 20))
    (is (.isOpen ch))
    (.close ch)
    (let [[k ^Throwable e] (s/outcome outcome 0)]
      (is (= :error k))
      (is (.contains (.getMessage e) "stream ended inside a frame") (.getMessage e)))
    (is (= [] (s/drain-events rec)))))
