# Reference values for alliancestats' expected-recovery curves (expected_response), the
# accuracy statistics of evaluate_signals (binom.test and pROC's DeLong AUC interval).
#
# The expected-treatment-response model (Finch, Lambert & Schaalje 2001) is fitted with lme4
# 1.1-31 on the reference half of the bundled psychotherapy sample (patients P001-P165):
#   score ~ time * intake + (time | patient),  time = log(t), t = session - intake session + 1,
# intake = the patient's first observed score (its session is not modelled), centred at its
# mean over the patients in the model. For every scored session of the monitored half
# (P166-P331) it writes the fixed-effects expectation, the band SD sqrt(z'Gz + sigma^2), and
# the expectation and SD conditioned on the patient's earlier scores after intake, computed
# here in batch GLS form (m = G Z'V^-1 r, C = G - G Z'V^-1 Z G), with and without the
# fixed-effect uncertainty term a Vbeta a' (a = x - z G Z'V^-1 X). Nearest-neighbour curves
# (Lutz et al. 2006): for two monitored patients, the local model score ~ time +
# (time | patient) on the k = 60 reference patients nearest on intake.
#
# Run: bash tests/reference/regenerate.sh monitoring
suppressPackageStartupMessages({library(lme4); library(pROC); library(jsonlite)})

d <- read.csv("../../../data/sample/psychotherapy_cohort.csv", stringsAsFactors = FALSE)
d <- d[order(d$patient, d$session), ]
first_session <- function(dd) {
  s <- tapply(ifelse(is.na(dd$symptoms), NA, dd$session), dd$patient, min, na.rm = TRUE)
  s[is.infinite(s)] <- NA
  s
}
prep <- function(dd) {
  fs <- first_session(dd)
  dd$intake_session <- as.numeric(fs[dd$patient])
  base <- sapply(split(dd, dd$patient), function(p) p$symptoms[!is.na(p$symptoms)][1])
  dd$intake <- as.numeric(base[dd$patient])
  dd$t <- dd$session - dd$intake_session + 1
  dd$time <- log(dd$t)
  dd
}
ref <- prep(d[d$patient <= "P165", ])
new <- prep(d[d$patient > "P165", ])
rows <- ref[!is.na(ref$symptoms) & !is.na(ref$t) & ref$t > 1, ]
centre <- mean(tapply(rows$intake, rows$patient, function(v) v[1]))
rows$intake_c <- rows$intake - centre
fit <- lmer(symptoms ~ time * intake_c + (time | patient), data = rows, REML = TRUE)
beta <- fixef(fit)
vc <- VarCorr(fit)$patient
G <- matrix(as.numeric(vc), 2, 2)
s2 <- sigma(fit)^2
Vb <- as.matrix(vcov(fit))

moments <- function(dd, beta, G, s2, Vb, xfun) {
  out <- list()
  for (p in unique(dd$patient)) {
    pr <- dd[dd$patient == p & !is.na(dd$t) & dd$t >= 2, ]
    if (nrow(pr) == 0) next
    X <- xfun(pr)
    Z <- cbind(1, pr$time)
    mu <- as.vector(X %*% beta)
    seen <- !is.na(pr$symptoms)
    for (j in seq_len(nrow(pr))) {
      z <- Z[j, ]; x <- X[j, ]
      prior <- which(seq_len(nrow(pr)) < j & seen)
      if (length(prior) == 0) {
        m <- c(0, 0); C <- G; M <- matrix(0, 2, length(beta))
      } else {
        Zp <- Z[prior, , drop = FALSE]; Xp <- X[prior, , drop = FALSE]
        V <- Zp %*% G %*% t(Zp) + diag(s2, length(prior))
        K <- G %*% t(Zp) %*% solve(V)
        m <- K %*% (pr$symptoms[prior] - mu[prior])
        C <- G - K %*% Zp %*% G
        M <- K %*% Xp
      }
      a <- x - as.vector(t(z) %*% M)
      out[[length(out) + 1]] <- data.frame(
        patient = p, session = pr$session[j],
        expected = mu[j], sd = sqrt(as.numeric(t(z) %*% G %*% z) + s2),
        expected_updated = mu[j] + sum(z * m),
        sd_updated = sqrt(as.numeric(t(z) %*% C %*% z) + s2),
        sd_updated_beta = sqrt(as.numeric(t(z) %*% C %*% z) + s2 + as.numeric(t(a) %*% Vb %*% a)),
        sd_beta = sqrt(as.numeric(t(z) %*% G %*% z) + s2 + as.numeric(t(x) %*% Vb %*% x)))
    }
  }
  do.call(rbind, out)
}
pooled_x <- function(pr) cbind(1, pr$time, pr$intake - centre, pr$time * (pr$intake - centre))
pred <- moments(new, beta, G, s2, Vb, pooled_x)

# nearest neighbours on the intake score, standardised by its SD among reference patients
ref_pat <- unique(rows$patient)
ref_intake <- as.numeric(tapply(rows$intake, rows$patient, function(v) v[1])[ref_pat])
nn <- list()
for (p in c("P170", "P200")) {
  target <- new$intake[new$patient == p][1]
  dist <- abs(target - ref_intake) / sd(ref_intake)
  chosen <- ref_pat[order(dist)[1:60]]
  local <- lmer(symptoms ~ time + (time | patient), data = rows[rows$patient %in% chosen, ],
                REML = TRUE)
  Gl <- matrix(as.numeric(VarCorr(local)$patient), 2, 2)
  m <- moments(new[new$patient == p, ], fixef(local), Gl, sigma(local)^2,
               as.matrix(vcov(local)), function(pr) cbind(1, pr$time))
  nn[[p]] <- list(neighbours = chosen, fixed = unname(fixef(local)),
                  sessions = m$session, expected = m$expected, sd = m$sd,
                  expected_updated = m$expected_updated, sd_updated = m$sd_updated)
}

# accuracy statistics on fixed vectors
truth <- c(1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0)
score <- c(2.1, 0.3, 1.7, -0.4, 0.9, -1.2, 0.3, 2.5, 0.1, -0.8, 1.1, 1.4, -0.2, 0.3, 0.3, -1.5,
           0.7, 0.2, -0.6, 1.0)
flag <- score > 1
roc <- roc(truth, score, direction = "<", quiet = TRUE)
ci95 <- ci.auc(roc, method = "delong", conf.level = 0.95)
ci90 <- ci.auc(roc, method = "delong", conf.level = 0.90)
bt <- function(k, n) as.numeric(binom.test(k, n)$conf.int)
tp <- sum(flag & truth == 1); fp <- sum(flag & truth == 0)
fn <- sum(!flag & truth == 1); tn <- sum(!flag & truth == 0)
accuracy <- list(truth = truth, score = score, threshold = 1,
                 auc = as.numeric(auc(roc)), auc_var = var(roc, method = "delong"),
                 auc_ci95 = as.numeric(ci95)[c(1, 3)], auc_ci90 = as.numeric(ci90)[c(1, 3)],
                 sensitivity = c(tp / (tp + fn), bt(tp, tp + fn)),
                 specificity = c(tn / (tn + fp), bt(tn, tn + fp)),
                 ppv = c(tp / (tp + fp), bt(tp, tp + fp)),
                 npv = c(tn / (tn + fn), bt(tn, tn + fn)))

out <- list(
  meta = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
              pROC = as.character(packageVersion("pROC"))),
  pooled = list(centre = centre, fixed = unname(beta), fixed_names = names(beta),
                G = as.vector(G), sigma2 = s2, vbeta = as.vector(Vb),
                n_patients = length(unique(rows$patient)), n_obs = nrow(rows),
                predictions = as.list(pred)),
  neighbours = nn,
  accuracy = accuracy)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "monitoring_reference.json")
