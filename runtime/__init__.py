# before anything imports torch: see omp_wait.py
from . import omp_wait as _omp_wait

_omp_wait.apply()
