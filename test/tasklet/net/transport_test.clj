(ns tasklet.net.transport-test
  "Transports over real sockets on 127.0.0.1, port 0, closed in `finally`. Waits are
  bounded by latches, queues and futures with timeouts, never by sleeping."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.net.support :as s])
  (:import (java.io DataInputStream DataOutputStream)
           (java.net InetSocketAddress Socket)
           (java.util.concurrent CountDownLatch CyclicBarrier TimeUnit)
           (tasklet.net AuthFailedException Connection FrameType Handshake Handshake$Hello
                        HandshakeException Transport)))

(set! *warn-on-reflection* true)

(defn- frames-of
  "Takes n :frame events from rec (failing fast on anything else), as [type payload]."
  [rec n]
  (loop [out (transient []) i 0]
    (if (= i n)
      (persistent! out)
      (let [e (s/next-event rec)]
        (if (= :frame (first e))
          (recur (conj! out [(nth e 2) (nth e 3)]) (inc i))
          (persistent! (conj! out e)))))))

;; 10,000 frames from one thread arrive in order; frames flow the other way too; the
;; connection knows the peer's name, incarnation and advertised address.
(deftest exchange-in-order
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c" :incarnation 7) ra)
                        b (s/start (s/config "beta" "c" :incarnation 8) rb)]
      (let [ab (s/connect! a b)
            [kind ^Connection ba] (s/next-event rb)
            n 10000]
        (is (= :connected kind))
        (is (= [:connected ab] (s/next-event ra)))
        (is (= ["beta" 8 (str "127.0.0.1:" (.port b))]
               [(.peerName ab) (.peerIncarnation ab) (.peerAddress ab)]))
        (is (= ["alpha" 7 (.address a)] [(.peerName ba) (.peerIncarnation ba) (.peerAddress ba)]))
        (is (identical? ab (s/connect! a b)) "connecting again returns the open connection")
        (dotimes [i n]
          (.send ab 0x10 (s/int-bytes i)))
        (let [got (frames-of rb n)]
          (is (= n (count got)))
          (is (every? #(= 0x10 (first %)) got))
          (is (= (range n) (map (comp s/bytes-int second) got))))
        (.send ba 0x7f (byte-array 100000))
        (let [[[t ^bytes p]] (frames-of ra 1)]
          (is (= [0x7f 100000] [t (alength p)])))
        (testing "bad sends are refused"
          (is (thrown? IllegalArgumentException (.send ab 0x0f (byte-array 0))))
          (is (thrown? IllegalArgumentException (.send ab 0x80 (byte-array 0)))))))))

;; Starts `threads` threads together; thread t sends `per` frames of type 0x10 + t,
;; frame i carrying (payload t i), after (before-send i). Once all are sent, takes the
;; frames from rb and returns them grouped by type.
(defn- send-from-threads [^Connection ab rb threads per payload before-send]
  (let [barrier (CyclicBarrier. threads)
        senders (doall (for [t (range threads)]
                         (future
                           (.await barrier)
                           (dotimes [i per]
                             (before-send i)
                             (.send ab (+ 0x10 t) ^bytes (payload t i))))))]
    (run! deref senders)
    (s/await-event rb :connected)
    (let [got (frames-of rb (* threads per))]
      (is (= (* threads per) (count got)))
      (group-by first got))))

;; Frames sent concurrently from several threads keep each thread's order.
(deftest per-thread-order
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c") ra)
                        b (s/start (s/config "beta" "c") rb)]
      (let [ab (s/connect! a b)
            threads 4
            per 2000
            by-type (send-from-threads ab rb threads per (fn [_ i] (s/int-bytes i)) (fn [_]))]
        (doseq [t (range threads)]
          (is (= (range per) (map (comp s/bytes-int second) (get by-type (+ 0x10 t))))))))))

;; Frames written straight to the socket by the sending thread (a lone send) and frames
;; queued through the pipeline (a stream of sends, a frame too big for the socket buffer)
;; never overtake or cut into each other: several threads mix both, each frame's bytes are
;; a pattern of its thread and number, and the receiver sees every thread's frames whole
;; and in order. The pauses between some sends are what makes a send lone (more than
;; FrameWriter.STREAM_NANOS after the last): they shape the traffic, nothing waits on them.
(deftest direct-and-queued-writes-keep-order
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c") ra)
                        b (s/start (s/config "beta" "c") rb)]
      (let [ab (s/connect! a b)
            threads 3
            per 600
            direct-before (Transport/directWrites)
            payload (fn [t i]
                      (let [n (case (int (mod (* (inc t) (inc i)) 7))
                                0 300000   ; past the socket buffer: partial write, rest queued
                                1 9000     ; past Frames' copy limit: a composite buffer
                                20)
                            bb (java.nio.ByteBuffer/allocate n)]
                        (.putInt bb (int i))
                        (while (.hasRemaining bb) (.put bb (unchecked-byte (+ (* 31 t) i (.position bb)))))
                        (.array bb)))
            intact? (fn [t ^bytes p]
                      (let [i (.getInt (java.nio.ByteBuffer/wrap p))]
                        (every? #(= (aget p (int %)) (unchecked-byte (+ (* 31 t) i %)))
                                (range 4 (alength p)))))
            pause (fn [i] (when (zero? (mod i 3)) (java.util.concurrent.locks.LockSupport/parkNanos 100000)))
            by-type (send-from-threads ab rb threads per payload pause)]
        (doseq [t (range threads)
                :let [frames (get by-type (+ 0x10 t))]]
          ;; s/bytes-int reads the first 4 bytes: the frame's number
          (is (= (range per) (map (comp s/bytes-int second) frames)) (str "thread " t "'s frames in order"))
          (is (every? #(intact? t (second %)) frames) (str "thread " t "'s frames whole")))
        (when (.isEpoll a)
          (is (< direct-before (Transport/directWrites)) "some frames took the direct path"))))))

;; A wrong cookie fails the connect future with AuthFailedException; the acceptor drops
;; that peer, reports nothing, and still serves a correct client afterwards.
(deftest wrong-cookie
  (let [ra (s/recorder) rm (s/recorder) rc (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "right") ra)
                        m (s/start (s/config "mallory" "wrong") rm)
                        c (s/start (s/config "carol" "right") rc)]
      (let [[k e] (s/outcome (.connect m "127.0.0.1" (.port a)))]
        (is (= :error k))
        (is (instance? AuthFailedException e) (str e)))
      (is (= [] (s/drain-events rm)))
      (let [ca (s/connect! c a)]
        (is (= "alpha" (.peerName ca)))
        (let [[kind ^Connection ac] (s/await-event ra :connected)]
          (is (= [:connected "carol"] [kind (.peerName ac)])))))))

;; Both nodes connect to each other at once: both futures return the same single
;; connection, each side reports exactly one `connected`, and the losing connection is
;; never reported (no `disconnected`), in either role of the name order.
(deftest simultaneous-connect
  (dotimes [round 10]
    (let [ra (s/recorder) rb (s/recorder)]
      (s/with-transports [a (s/start (s/config "alpha" "c") ra)
                          b (s/start (s/config "beta" "c") rb)]
        (let [fa (.connect a "127.0.0.1" (.port b))
              fb (.connect b "127.0.0.1" (.port a))
              [ka ^Connection ca] (s/outcome fa)
              [kb ^Connection cb] (s/outcome fb)]
          (is (= [:ok :ok] [ka kb]) (str "round " round ": " ca " " cb))
          (when (= [:ok :ok] [ka kb])
            (is (= ["beta" "alpha"] [(.peerName ca) (.peerName cb)]))
            ;; a round trip on the kept connection proves both ends hold the same one
            (.send ca 0x10 (byte-array [1]))
            (is (= 0x10 (nth (s/await-event rb :frame) 2)))
            (.send cb 0x11 (byte-array [2]))
            (is (= 0x11 (nth (s/await-event ra :frame) 2)))
            (is (= 1 (count (.connections a)) (count (.connections b))))
            (is (identical? ca (.connection a "beta")))
            (is (identical? cb (.connection b "alpha")))
            (let [events (concat (s/drain-events ra) (s/drain-events rb))]
              (is (= [] (filter #(= :disconnected (first %)) events)) (str "round " round)))))))))

;; When the peer closes, each side reports `disconnected` exactly once, with the reason;
;; a reconnect works; a transport shutting down is a loss for the other side.
(deftest peer-close-reported-once
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c") ra)
                        b (s/start (s/config "beta" "c") rb)]
      (let [ab (s/connect! a b)
            [_ ba] (s/await-event rb :connected)]
        (s/await-event ra :connected)
        (.close ab "done here")
        (is (= [:disconnected ab "done here"] (s/await-event ra :disconnected)))
        (is (= [:disconnected ba "closed by peer: done here"] (s/await-event rb :disconnected)))
        (is (not (.isOpen ab)))
        (is (false? (.send ab 0x10 (byte-array 1))) "a closed connection drops frames")
        (is (nil? (.connection a "beta"))))
      (let [ab2 (s/connect! a b)]
        (is (= :connected (first (s/await-event rb :connected))))
        (.close b)
        (let [[k c r] (s/await-event ra :disconnected)]
          (is (= [:disconnected ab2] [k c]))
          (is (contains? #{"closed by peer: node beta shutting down"
                           "connection closed by peer"} r) r))))
    (is (= [] (s/lifecycle-problems ra)))
    (is (= [] (s/lifecycle-problems rb)))))

(defn- fake-peer
  "Connects a raw socket to transport t as node `node-name` (incarnation inc) and
  completes the handshake (without reading t's PROOF); if its name sorts lower it also sends the ACCEPT that the
  deciding side owes. Then it does nothing: it never reads, writes or ticks again."
  (^Socket [t node-name cookie] (fake-peer t node-name cookie 1))
  (^Socket [^Transport t ^String node-name cookie inc]
   (let [sock (Socket.)]
     (.connect sock (InetSocketAddress. "127.0.0.1" (.port t)) (int s/timeout-ms))
     (.setSoTimeout sock (int s/timeout-ms))
     (let [in (DataInputStream. (.getInputStream sock))
           out (DataOutputStream. (.getOutputStream sock))
           [type hello] (s/read-frame in)
           mine (s/hello-payload node-name inc "127.0.0.1:1" (Handshake/nonce))]
       (assert (= FrameType/HELLO type))
       (.write out (s/frame-bytes FrameType/HELLO mine))
       (.write out (s/frame-bytes FrameType/PROOF (s/proof cookie Handshake/INITIATOR mine hello)))
       (when (neg? (compare node-name (.name t)))
         (.write out (s/frame-bytes FrameType/ACCEPT (byte-array 0))))
       (.flush out))
     sock)))

;; A peer that passes the handshake and then goes silent is dropped after the heartbeat
;; timeout.
(deftest heartbeat-timeout
  (let [ra (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c" :tick-ms 100 :silence-ms 200) ra)]
      (let [sock (fake-peer a "zed" "c")]
        (try
          (let [[k ^Connection c] (s/await-event ra :connected)
                t0 (System/nanoTime)
                [k2 c2 reason] (s/await-event ra :disconnected)
                ms (/ (- (System/nanoTime) t0) 1e6)]
            (is (= [:connected "zed"] [k (.peerName c)]))
            (is (= [:disconnected c "heartbeat timeout"] [k2 c2 reason]))
            (is (<= 150 ms 3000) (str "dropped after " ms " ms")))
          (finally (.close sock)))))))

;; A peer that restarts (new incarnation) while the old connection is still open but
;; silent (no tick for two periods: the old process is gone) replaces it: the old one is
;; reported lost first, then the new one connected. Checked with the transport in both
;; roles (deciding, and waiting for the verdict).
(deftest restarted-peer-replaces-stale-connection
  (doseq [[mine theirs] [["alpha" "beta"] ["zed" "beta"]]]
    (testing (str mine " sees " theirs " restart")
      (let [ra (s/recorder) rb (s/recorder)]
        (s/with-transports [a (s/start (s/config mine "c" :tick-ms 100 :silence-ms 5000) ra)
                            b (s/start (s/config theirs "c" :incarnation 2) rb)]
          (with-open [old (fake-peer a theirs "c" 1)]
            (let [[k ^Connection stale] (s/await-event ra :connected)]
              (is (= [:connected 1] [k (.peerIncarnation stale)]))
              (let [ba (s/connect! b a)]
                (is (= mine (.peerName ba))))
              (let [[k1 c1 r1] (s/next-event ra)
                    [k2 ^Connection c2] (s/next-event ra)]
                (is (= [:disconnected stale (str "node " theirs " restarted")] [k1 c1 r1]))
                (is (= [:connected 2] [k2 (some-> c2 .peerIncarnation)]))
                (is (identical? c2 (s/connect! a b)) "connect returns the open one")))))
        (is (= [] (s/lifecycle-problems ra)))))))

;; Connecting while the deciding peer still holds an open connection from this node's
;; own incarnation (one this node no longer knows of) waits and retries until the peer
;; lets the stale one go, then succeeds.
(deftest connect-retries-while-peer-holds-stale-connection
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c") ra)
                        b (s/start (s/config "beta" "c" :incarnation 5) rb)]
      (let [stale (fake-peer a "beta" "c" 5)
            [_ ^Connection sc] (s/await-event ra :connected)
            f (.connect b "127.0.0.1" (.port a))]
        (try
          (is (= [:timeout] (s/outcome f 300)) "refused as a duplicate while the stale one is open")
          (finally (.close stale)))
        (let [[k ^Connection ba] (s/outcome f)]
          (is (= :ok k))
          (is (= "alpha" (some-> ba .peerName))))
        (is (= :disconnected (first (s/next-event ra))))
        (is (= :connected (first (s/next-event ra))))))
    (is (= [] (s/lifecycle-problems ra)))
    (is (= [] (s/lifecycle-problems rb)))))

;; A live peer keeps the connection through many tick periods, and its load arrives.
;; (Timing-based by nature: ticks of 200 ms leave room for a loaded 2-core machine.)
(deftest heartbeat-keeps-alive-and-carries-load
  (let [ra (s/recorder) rb (s/recorder)]
    (.set ^java.util.concurrent.atomic.AtomicLong (:load rb) 42)
    (s/with-transports [a (s/start (s/config "alpha" "c" :tick-ms 200) ra)
                        b (s/start (s/config "beta" "c" :tick-ms 200) rb)]
      (let [ab (s/connect! a b)
            pause (CountDownLatch. 1)]
        (.await pause 1200 TimeUnit/MILLISECONDS) ; six tick periods pass
        (is (= 42 (.lastPeerLoad ab)))
        (is (.isOpen ab))
        (is (= [] (filter #(= :disconnected (first %)) (s/drain-events ra))))))))

;; Garbage from one client closes that connection only; an established one keeps working.
(deftest garbage-harms-no-other-connection
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c") ra)
                        b (s/start (s/config "beta" "c") rb)]
      (let [ba (s/connect! b a)]
        (with-open [sock (Socket. "127.0.0.1" (.port a))]
          (.setSoTimeout sock (int s/timeout-ms))
          (let [out (.getOutputStream sock)
                in (.getInputStream sock)]
            (.write out (.getBytes "GET / HTTP/1.1\r\n\r\n" "UTF-8"))
            (.flush out)
            ;; the acceptor answers with HELLO and a CLOSE, then hangs up: read to EOF
            (is (= -1 (loop [] (let [r (.read in (byte-array 4096))] (if (pos? r) (recur) r)))))))
        (.send ba 0x10 (byte-array [5]))
        (let [[k _ t] (s/await-event ra :frame)]
          (is (= [:frame 0x10] [k t])))
        (is (.isOpen ba))))))

;; A reader that stops reading makes the sender unwritable; whenWritable fires once the
;; reader resumes and the backlog drains, and every frame arrives.
(deftest back-pressure
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c" :water [(* 64 1024) (* 256 1024)]) ra)
                        b (s/start (s/config "beta" "c") rb)]
      (let [ab (s/connect! a b)
            [_ ^Connection ba] (s/await-event rb :connected)
            chunk (byte-array (* 64 1024))
            n 2048 ; 128 MiB: far more than the socket buffers can absorb
            fired (promise)]
        (.pauseReading ba)
        (dotimes [_ n] (.send ab 0x10 chunk))
        (.send ab 0x11 (byte-array 0))
        (is (not (.isWritable ab)))
        (.whenWritable ab #(deliver fired (.isWritable ab)))
        (is (= ::not-yet (deref fired 300 ::not-yet)) "not while the reader is paused")
        (.resumeReading ba)
        (is (= true (deref fired s/timeout-ms ::timeout)))
        (let [got (frames-of rb (inc n))]
          (is (= (concat (repeat n 0x10) [0x11]) (map first got))))
        (let [now (promise)]
          (.whenWritable ab #(deliver now :ran))
          (is (= :ran (deref now s/timeout-ms ::timeout)) "fires at once when writable"))))))

;; A stream of small frames is staged and handed to the pipeline in batches (one drain
;; task and one flush per batch, FrameWriter): every frame arrives, in order, the stream's
;; last one too, after which nothing is sent (nothing may stay staged); then lone frames,
;; each awaited before the next.
(deftest batched-stream-leaves-nothing-unflushed
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c") ra)
                        b (s/start (s/config "beta" "c") rb)]
      (let [ab (s/connect! a b)
            _ (s/await-event rb :connected)
            [f0 d0] (vec (Transport/batchedWrites))
            n 20000]
        (dotimes [i n] (.send ab 0x10 (s/int-bytes i)))
        (is (= (range n) (map (comp s/bytes-int second) (frames-of rb n))))
        (let [[f1 d1] (vec (Transport/batchedWrites))]
          (is (< f0 f1) "the stream was staged")
          (is (< d0 d1) "and drained"))
        (doseq [k (range 3)]
          (.send ab 0x11 (s/int-bytes k))
          (is (= [[0x11 k]] (map (fn [[t p]] [t (s/bytes-int p)]) (frames-of rb 1))) "a lone frame"))))))

;; The event loop's own frames (heartbeat TICKs every 10 ms, written on the loop) go
;; through the same writer as the staged streams of several threads: nothing interleaves
;; (a cut frame would close the connection) and each thread's order holds.
(deftest loop-writes-and-staged-streams-keep-order
  (let [ra (s/recorder) rb (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c" :tick-ms 10 :silence-ms 60000) ra)
                        b (s/start (s/config "beta" "c") rb)]
      (let [ab (s/connect! a b)
            threads 3
            per 4000
            by-type (send-from-threads ab rb threads per (fn [_ i] (s/int-bytes i))
                                       (fn [i] (when (zero? (mod i 500))
                                                 (java.util.concurrent.locks.LockSupport/parkNanos 15000000))))]
        (doseq [t (range threads)]
          (is (= (range per) (map (comp s/bytes-int second) (get by-type (+ 0x10 t))))))
        (let [^Connection ba (some #(when (= :connected (first %)) (second %)) @(:log rb))]
          (is (< 3 (.peerLoadReports ba)) "TICKs crossed meanwhile"))
        (is (.isOpen ab))))))

;; Staged bytes count against the high-water mark: with the sender's event loop held (its
;; endpoint blocks in a frame delivered on the loop), nothing is drained, and a sender
;; that checks isWritable before each send, as tasklet.dist's Connector does, is stopped
;; after about the high-water mark's worth; once the loop runs again, every frame arrives.
(deftest staged-bytes-count-against-the-water-mark
  (let [held (CountDownLatch. 1)
        entered (CountDownLatch. 1)
        ra (s/recorder)
        rb (s/recorder)
        ^tasklet.net.Endpoint record-a (:endpoint ra)
        ea (reify tasklet.net.Endpoint
             (connected [_ c] (.connected record-a c))
             (frame [_ c t p]
               (when (= t 0x7f)
                 (.countDown entered)
                 (.await held s/timeout-ms TimeUnit/MILLISECONDS)))
             (disconnected [_ c r] (.disconnected record-a c r))
             (load [_] 0))
        high (* 64 1024)]
    (try
      (s/with-transports [a (Transport/start (s/config "alpha" "c" :water [(* 32 1024) high]) ea)
                          b (s/start (s/config "beta" "c") rb)]
        (let [ab (s/connect! a b)
              [_ ^Connection ba] (s/await-event rb :connected)
              payload (fn [i] (.array (.putInt (java.nio.ByteBuffer/allocate 1000) (int i))))
              cap 10000]
          (.send ba 0x7f (byte-array 1))
          (is (.await entered s/timeout-ms TimeUnit/MILLISECONDS) "alpha's loop is held")
          (let [direct-before (Transport/directWrites)
                sent (loop [i 0]
                       (if (and (< i cap) (.isWritable ab))
                         (do (.send ab 0x10 ^bytes (payload i)) (recur (inc i)))
                         i))
                ;; a send after a pause (more than 5 µs: the first, cold iterations
                ;; can be that slow, hundreds of them) goes straight to the socket's
                ;; buffer, not counted by the mark; the staged ones are
                staged (- sent (- (Transport/directWrites) direct-before))]
            (is (< 0 staged (* 2 (quot high 1005))) "stopped at about the high-water mark's worth")
            (.countDown held)
            (is (= (range sent) (map (comp s/bytes-int second) (frames-of rb sent))))
            (let [now (promise)]
              (.whenWritable ab #(deliver now (.isWritable ab)))
              (is (= true (deref now s/timeout-ms ::timeout)) "writable again")))))
      (finally (.countDown held)))))

;; A connect to a port where nothing listens fails with the socket's error.
(deftest connect-refused
  (let [ra (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c") ra)]
      (let [port (with-open [ss (java.net.ServerSocket. 0)] (.getLocalPort ss))
            [k e] (s/outcome (.connect a "127.0.0.1" (int port)))]
        (is (= :error k))
        (is (instance? java.net.ConnectException e) (str e))))))

;; A peer that accepts but never speaks fails the connect after the handshake timeout.
(deftest handshake-timeout-on-socket
  (let [ra (s/recorder)]
    (s/with-transports [a (s/start (s/config "alpha" "c" :handshake-ms 300) ra)]
      (with-open [ss (java.net.ServerSocket. 0 50 (java.net.InetAddress/getByName "127.0.0.1"))]
        (let [f (.connect a "127.0.0.1" (int (.getLocalPort ss)))
              peer (.accept ss)]
          (try
            (let [[k ^Throwable e] (s/outcome f)]
              (is (= :error k))
              (is (instance? HandshakeException e))
              (is (.contains (.getMessage e) "did not finish within 300 ms") (.getMessage e)))
            (finally (.close peer))))))))
