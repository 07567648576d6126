(ns tasklet.net.tls-test
  "Mutual TLS between two transports, with self-signed PKCS12 key stores made by the
  JDK's keytool in a temporary directory."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.net.support :as s])
  (:import (java.io InputStream OutputStream)
           (java.net InetAddress Socket)
           (javax.net.ssl SSLContext SSLServerSocket SSLSocket)
           (tasklet.net AuthFailedException Connection HandshakeException Tls Transport)))

(set! *warn-on-reflection* true)

(defn- tls
  "Tls presenting key-store's certificate and trusting the certificates in trust-store."
  ^Tls [key-store trust-store]
  (let [pw (.toCharArray ^String s/store-password)]
    (Tls/fromKeyStores key-store pw trust-store pw)))

;; Two nodes sharing one certificate (each trusts it) handshake over TLS and exchange
;; frames; a node with a certificate the others do not trust cannot connect, in either
;; direction, and the cookie check still applies inside TLS.
(deftest mutual-tls
  (let [dir (s/temp-dir "tasklet-tls")]
    (try
      (let [shared (s/key-store! dir "cluster")
            stranger (s/key-store! dir "stranger")
            ra (s/recorder) rb (s/recorder) rc (s/recorder) rm (s/recorder)]
        (s/with-transports [a (s/start (s/config "alpha" "c" :tls (tls shared shared)) ra)
                            b (s/start (s/config "beta" "c" :tls (tls shared shared)) rb)
                            c (s/start (s/config "carol" "c" :tls (tls stranger stranger)) rc)
                            m (s/start (s/config "mallory" "wrong" :tls (tls shared shared)) rm)]
          (testing "trusted peers connect and exchange frames"
            (let [ab (s/connect! a b)
                  [_ ^Connection ba] (s/await-event rb :connected)]
              (dotimes [i 1000] (.send ab 0x10 (s/int-bytes i)))
              (.send ba 0x20 (byte-array 70000))
              (let [got (loop [out [] i 0]
                          (if (= i 1000) out
                              (let [[k _ _ p] (s/await-event rb :frame)]
                                (if k (recur (conj out (s/bytes-int p)) (inc i)) out))))]
                (is (= (range 1000) got)))
              (let [[_ _ t ^bytes p] (s/await-event ra :frame)]
                (is (= [0x20 70000] [t (alength p)])))))
          (testing "an untrusted certificate is refused both ways"
            (let [[k e] (s/outcome (.connect c "127.0.0.1" (.port a)))]
              (is (= :error k))
              (is (instance? HandshakeException e) (str e)))
            (let [[k e] (s/outcome (.connect a "127.0.0.1" (.port c)))]
              (is (= :error k))
              (is (instance? HandshakeException e) (str e))))
          (testing "the cookie is still checked inside TLS"
            (let [[k e] (s/outcome (.connect m "127.0.0.1" (.port b)))]
              (is (= :error k))
              (is (instance? AuthFailedException e) (str e)))))
        (is (= [] (s/lifecycle-problems ra) (s/lifecycle-problems rb)))
        (is (= [] @(:log rc) @(:log rm)) "refused peers never see a connection"))
      (finally (s/delete-tree dir)))))

(defn- pipe
  "Copies from in to out until either ends; then closes both sockets."
  [^InputStream in ^OutputStream out ^Socket x ^Socket y]
  (future
    (try
      (let [buf (byte-array 8192)]
        (loop []
          (let [n (.read in buf)]
            (when (pos? n)
              (.write out buf 0 n)
              (.flush out)
              (recur)))))
      (catch Exception _)
      (finally (.close x) (.close y)))))

;; A relay that holds a trusted certificate but not the cookie sits between alpha and
;; beta: alpha connects to it over TLS, it connects to beta over TLS and passes the
;; plaintext both ways. Without channel binding the proofs would verify at both ends
;; (they cover only the HELLOs, which the relay passes on unchanged) and the relay would
;; sit inside an authenticated connection; bound to each TLS session, they do not.
(deftest tls-relay-is-refused
  (let [dir (s/temp-dir "tasklet-tls-relay")]
    (try
      (let [shared (s/key-store! dir "cluster")
            ^SSLContext ctx (.context (tls shared shared))
            ^SSLServerSocket server (.createServerSocket (.getServerSocketFactory ctx) 0 50
                                                         (InetAddress/getByName "127.0.0.1"))
            ra (s/recorder) rb (s/recorder)]
        (.setNeedClientAuth server true)
        (.setSoTimeout server (int s/timeout-ms))
        (try
          (s/with-transports [a (s/start (s/config "alpha" "c" :tls (tls shared shared)) ra)
                              b (s/start (s/config "beta" "c" :tls (tls shared shared)) rb)]
            (let [relay (future
                          (let [^SSLSocket from (.accept server)
                                ^SSLSocket to (.createSocket (.getSocketFactory ctx) "127.0.0.1" (int (.port b)))]
                            (.startHandshake from)
                            (.startHandshake to)
                            [(pipe (.getInputStream from) (.getOutputStream to) from to)
                             (pipe (.getInputStream to) (.getOutputStream from) from to)]))
                  [k e] (s/outcome (.connect a "127.0.0.1" (.getLocalPort server)))]
              (is (= :error k))
              (is (instance? AuthFailedException e) (str e))
              (doseq [p (deref relay s/timeout-ms [])] (deref p s/timeout-ms nil))
              (is (nil? (.connection b "alpha")))
              (is (= [] @(:log ra) @(:log rb)) "neither side saw a connection")))
          (finally (.close server))))
      (finally (s/delete-tree dir)))))
