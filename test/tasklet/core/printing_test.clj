(ns tasklet.core.printing-test
  "doc/reference.md §6, printing: a pid prints readably as #tasklet/pid [node serial
  incarnation] and reads back equal with the project's data readers."
  (:require [clojure.edn :as edn]
            [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [spawn ! receive self exit]]
            [tasklet.core.support :as s :refer [recv start-probe]])
  (:import [tasklet.kernel Pid Ref]))

(set! *warn-on-reflection* true)

(def ^:private readers {'tasklet/pid t/read-pid 'tasklet/ref t/read-ref})

;; A pid prints as #tasklet/pid [:node N I] with this node's name (:nonode without distribution), via pr-str, str and inside collections.
(deftest pid-prints-as-tagged-literal
  (let [p (start-probe)
        node (:node (t/runtime-info))
        shape (re-pattern (str "#tasklet/pid \\[" node " \\d+ -?\\d+\\]"))]
    (try
      (is (keyword? node))
      (is (re-matches shape (pr-str p)))
      (is (= (pr-str p) (str p) (print-str p)))
      (is (= (str "[:msg " (pr-str p) "]") (pr-str [:msg p])))
      (is (re-matches shape (pr-str (self))) "a plain thread's pid too")
      (finally (exit p :kill)))))

;; A printed pid reads back equal (same hash) with the project's data readers: read-string with *data-readers*, the default readers from data_readers.clj, and clojure.edn.
(deftest pid-reads-back-equal
  (let [p (start-probe)
        s (pr-str {:pid p :in [p]})]
    (try
      (doseq [[how v] [["*data-readers*" (binding [*data-readers* readers] (read-string s))]
                       ["data_readers.clj on the classpath" (read-string s)]
                       ["edn" (edn/read-string {:readers readers} s)]]]
        (testing how
          (is (instance? Pid (:pid v)))
          (is (= p (:pid v)))
          (is (= (hash p) (hash (:pid v))))
          (is (= {:pid p :in [p]} v))))
      (testing "a pid read back is a working address"
        (let [q (edn/read-string {:readers readers} (pr-str p))
              tg (s/tag)]
          (! q [:ping (self) tg])
          (is (= :pong (recv [:pong tg] :pong)))))
      (finally (exit p :kill)))))

;; Refs print as #tasklet/ref and read back equal too.
(deftest ref-prints-and-reads-back
  (let [r (t/make-ref)
        p (start-probe)
        m (t/monitor p)]
    (doseq [x [r m]]
      (is (re-matches #"#tasklet/ref \[:\S+ \d+ -?\d+\]" (pr-str x)))
      (is (= x (edn/read-string {:readers readers} (pr-str x)))))
    (exit p :kill)))

;; An incarnation is any 32-bit value but 0 for a distributed node (a random one, so
;; often negative): the extremes print and read back equal.
(deftest extreme-incarnations-read-back
  (doseq [i [Integer/MIN_VALUE -1 1 Integer/MAX_VALUE]]
    (let [p (Pid. "alpha" 3 (int i)) r (Ref. "alpha" 4 (int i))]
      (is (= (str "#tasklet/pid [:alpha 3 " i "]") (pr-str p)))
      (is (= p (edn/read-string {:readers readers} (pr-str p))))
      (is (= r (edn/read-string {:readers readers} (pr-str r)))))))

;; A malformed #tasklet/pid form (an incarnation beyond 32 bits too) is rejected with ex-info :badarg.
(deftest malformed-pid-literal-is-badarg
  (doseq [bad ["#tasklet/pid [:nonode 1]" "#tasklet/pid [\"nonode\" 1 0]" "#tasklet/pid [:nonode :x 0]"
               "#tasklet/pid {:node :nonode}"
               "#tasklet/pid [:nonode 1 4294967296]" "#tasklet/ref [:nonode 1 -2147483649]"]]
    (let [e (s/thrown-error (edn/read-string {:readers readers} bad))]
      (is (= :badarg (s/error-kind e)) bad))))

;; A printed pid or ref pasted into code evaluates (the compiler embeds it): eval of the read form equals the original,
;; and a send to a pasted pid literal arrives.
(deftest pasted-literals-evaluate
  (let [me (self)
        r (t/make-ref)]
    (is (= me (eval (read-string (pr-str me)))))
    (is (= r (eval (read-string (pr-str r)))))
    (is (= [me r] (eval (read-string (pr-str `(vector ~me ~r))))) "inside a form")
    (eval (read-string (str "(tasklet.core/! " (pr-str me) " [:pasted " (pr-str r) "])")))
    (is (= r (recv [:pasted x] x)))))
