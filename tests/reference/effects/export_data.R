# Export R's iris data (Anderson 1935; Fisher 1936, Ann Eugen 7(2)) to data/iris.csv with
# Python-friendly column names. iris ships with base R (package datasets) and is in the public
# domain. Run from this folder: Rscript --vanilla export_data.R
d <- datasets::iris
names(d) <- c("sepal_length", "sepal_width", "petal_length", "petal_width", "species")
write.csv(d, "data/iris.csv", row.names = FALSE)
cat("wrote data/iris.csv\n")
