(ns ^:no-doc tasklet.impl.receive
  "Compile-time support for tasklet.core/receive: clause parsing and
  validation, and the matcher that the kernel's Mailbox calls per message."
  (:require [clojure.core.match]))

(set! *warn-on-reflection* true)

(defn- syntax-error [form msg]
  (let [{:keys [line column]} (meta form)]
    (ex-info (str "receive: " msg (when line (str " (line " line ", column " column ")")))
             {:tasklet/error :badarg :form form})))

(defn- after-clause? [x]
  (and (seq? x) (= 'after (first x))))

(defn parse
  "Splits receive's clauses into [[pattern body] ...] and the after clause
  (nil or [ms-form body-forms]). Throws at macro-expansion time on an odd
  number of forms, an `after` that is not last, or a literal timeout that is
  neither a non-negative number, nil nor :infinity."
  [form clauses]
  (let [[clauses after] (if (after-clause? (last clauses))
                          [(butlast clauses) (last clauses)]
                          [clauses nil])]
    (when (some after-clause? clauses)
      (throw (syntax-error form "(after ms body...) must be the last clause")))
    (when (odd? (count clauses))
      (throw (syntax-error form (str "clauses must be pattern/body pairs, got " (count clauses)
                                     " forms; add the missing body or pattern"))))
    (when after
      (when (< (count after) 2)
        (throw (syntax-error form "(after ms body...) needs a timeout in ms")))
      (let [ms (second after)]
        (when-not (or (nil? ms) (= :infinity ms) (and (number? ms) (not (neg? ms)))
                      (symbol? ms) (seq? ms))
          (throw (syntax-error form (str "after's timeout must be milliseconds (a non-negative number),"
                                         " nil or :infinity, not " (pr-str ms)))))))
    [(partition 2 clauses) (when after [(second after) (drop 2 after)])]))

(defn pattern-locals
  "The symbols a core.match pattern binds, in order, given the symbols already
  in scope (`env`), which core.match matches by value instead of binding."
  [pat env]
  (letfn [(walk [p]
            (cond
              (symbol? p) (if (or (= '_ p) (= '& p) (namespace p) (contains? env p)) [] [p])
              (vector? p) (mapcat walk p)
              (map? p) (mapcat walk (vals p))
              (seq? p) (let [[f s t] p]
                         (cond
                           (= 'quote f) []
                           (= :or f) (distinct (mapcat walk (rest p)))
                           (= :as s) (concat (walk f) (walk t))
                           (keyword? s) (walk f)
                           :else []))
              :else []))]
    (vec (distinct (walk pat)))))

(defn matcher-form
  "A (fn [msg] ...) that returns [clause-index & bound-values] for the first
  clause whose pattern matches msg, else nil. Each clause is matched in its
  own try, so a guard that throws only fails that clause."
  [clauses env]
  (let [msg (gensym "msg")]
    `(fn [~msg]
       (or ~@(map-indexed
               (fn [i [pat _]]
                 (let [locals (pattern-locals pat env)]
                   `(try
                      (clojure.core.match/match [~msg] [~pat] [~i ~@locals] :else nil)
                      (catch Throwable _# nil))))
               clauses)))))

(defn body-form
  "Dispatch on the matcher's result: bind the clause's locals and run its body
  in tail position (so `recur` reaches an enclosing loop or fn)."
  [result clauses env]
  `(case (int (nth ~result 0))
     ~@(mapcat (fn [i [pat body]]
                 (let [locals (pattern-locals pat env)]
                   [i `(let [~@(mapcat (fn [j sym] [sym `(nth ~result ~(inc j))])
                                       (range) locals)]
                         ~body)]))
               (range) clauses)))
