(ns tasklet.net.tls-test
  "Mutual TLS between two transports, with self-signed PKCS12 key stores made by the
  JDK's keytool in a temporary directory."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.net.support :as s])
  (:import (tasklet.net AuthFailedException Connection HandshakeException Tls)))

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
