# Data for the panel reference scripts (run first: the other scripts read what this writes).
#
# 1. data/wages.csv -- the Cornwell-Rupert wage panel (R package plm, data set `Wages`).
# 595 individuals observed 1976-1982 (Panel Study of Income Dynamics); plm stores it as a
# stacked balanced panel (7 rows per person, in order), so `id` and `t` are added here.
# Factor columns become 0/1 and take the names used by Allison, Williams & Moral-Benito (2017)
# and R dpm's copy of the data: occ (blue collar), ms (married), fem (female), blk (black).
# Run: bash tests/reference/regenerate.sh panel
suppressPackageStartupMessages(library(plm))
data("Wages", package = "plm")
stopifnot(nrow(Wages) == 595 * 7)
yes <- function(f) as.integer(f == "yes")
out <- data.frame(
  id = rep(seq_len(595), each = 7),
  t = rep(1:7, times = 595),
  exp = Wages$exp,
  wks = Wages$wks,
  occ = yes(Wages$bluecol),
  ind = Wages$ind,
  south = yes(Wages$south),
  smsa = yes(Wages$smsa),
  ms = yes(Wages$married),
  fem = as.integer(Wages$sex == "female"),
  union = yes(Wages$union),
  ed = Wages$ed,
  blk = yes(Wages$black),
  lwage = Wages$lwage
)
write.csv(out, file.path("data", "wages.csv"), row.names = FALSE)

# 2. data/riclpm_missing.csv -- Mulder & Hamaker's RICLPM.dat (see README.md) with values
#    deleted so that full-information ML has work to do: 8% of cells missing completely at
#    random, and 15% of units dropping out after wave 2, 3 or 4 (monotone). Columns
#    id, x_1..x_5, y_1..y_5; empty = missing.
set.seed(20210611)
ri <- read.table(file.path("data", "RICLPM.dat"),
                 col.names = c(paste0("x_", 1:5), paste0("y_", 1:5)))
n <- nrow(ri)
cells <- matrix(runif(n * 10) < 0.08, n, 10)
ri[cells] <- NA
drop <- which(runif(n) < 0.15)
after <- sample(2:4, length(drop), replace = TRUE)
for (k in seq_along(drop)) {
  gone <- (after[k] + 1):5
  ri[drop[k], c(paste0("x_", gone), paste0("y_", gone))] <- NA
}
ri <- cbind(id = seq_len(n), ri)
write.csv(ri, file.path("data", "riclpm_missing.csv"), row.names = FALSE, na = "")

# 3. data/psychotherapy_sessions.csv -- sessions 1-8 of alliancestats' simulated
#    psychotherapy sample (data/sample/psychotherapy_cohort.csv): patient, session, wai_sr,
#    symptoms. A frozen copy, so that the pinned fits do not move if the sample is rebuilt.
ps <- read.csv(file.path("..", "..", "..", "data", "sample", "psychotherapy_cohort.csv"))
ps <- ps[ps$session <= 8, c("patient", "session", "wai_sr", "symptoms")]
write.csv(ps, file.path("data", "psychotherapy_sessions.csv"), row.names = FALSE, na = "")

# 4. data/wages_missing.csv -- data/wages.csv with 5% of wks, union and lwage values deleted
#    completely at random, for full-information ML in the dynamic panel model.
set.seed(20170601)
wm <- read.csv(file.path("data", "wages.csv"))
for (v in c("wks", "union", "lwage")) wm[[v]][runif(nrow(wm)) < 0.05] <- NA
write.csv(wm[, c("id", "t", "wks", "union", "lwage", "ed")],
          file.path("data", "wages_missing.csv"), row.names = FALSE, na = "")
