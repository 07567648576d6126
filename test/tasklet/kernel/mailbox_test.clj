(ns tasklet.kernel.mailbox-test
  "The Mailbox on its own, from one thread: selective scans, marks, holes."
  (:require [clojure.test :refer [deftest is]])
  (:import [tasklet.kernel Mailbox]))

(defn- reply-matcher [m] (when (= :reply (first m)) m))

;; A mark skips the backlog: a marked scan sees only what came after the mark.
(deftest marked-scan-skips-the-backlog
  (let [mb (Mailbox.)]
    (dotimes [i 3] (.put mb [:reply :old i]))
    (.mark mb)
    (.put mb [:reply :new])
    (is (= [:reply :new] (.scan mb reply-matcher)))
    (is (= 3 (.size mb)) "the backlog is untouched")
    (.endScan mb)
    (is (= [:reply :old 0] (.scan mb reply-matcher)) "a plain scan starts at the oldest")))

;; A stream of marked calls over a backlog leaves no trail of holes behind
;; (each matched reply is the tail when taken, so it becomes a hole first).
(deftest marked-calls-leave-no-holes
  (let [mb (Mailbox.)]
    (dotimes [i 10] (.put mb [:backlog i]))
    (dotimes [i 10000]
      (.mark mb)
      (.put mb [:reply i])
      (is (= [:reply i] (.scan mb reply-matcher))))
    (is (= 10 (.size mb)))
    (is (<= (.linkedNodes mb) 12) "at most the last hole is left")))

;; Per-producer FIFO through selective scans that skip some messages.
(deftest skipped-messages-keep-their-order
  (let [mb (Mailbox.)]
    (doseq [m [[:a 1] [:b 1] [:a 2] [:b 2] [:a 3]]] (.put mb m))
    (is (= [:b 1] (.scan mb (fn [m] (when (= :b (first m)) m)))))
    (.endScan mb)
    (is (= [[:a 1] [:a 2] [:b 2] [:a 3]] (vec (.snapshot mb))))))

;; poll takes the oldest message, nil messages included, and nil when empty.
(deftest poll-takes-oldest-first
  (let [mb (Mailbox.)]
    (.put mb :a) (.put mb nil) (.put mb :c)
    (is (= [:a nil :c] [(.poll mb) (.poll mb) (.poll mb)]))
    (is (= 0 (.size mb)))
    (is (nil? (.poll mb)))))
