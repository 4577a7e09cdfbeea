# Included by _core.pyx: the C library's pre-packed B (lmul_gemm_pack and
# lmul_gemm_compute) as a Python object. lmul_simd._packed builds the public
# type over it.

cdef extern from "fenv.h":
    int FE_OVERFLOW, FE_INVALID
    int feclearexcept(int excepts) nogil
    int fetestexcept(int excepts) nogil

cdef extern from "numpy/ufuncobject.h":
    int UFUNC_FPE_OVERFLOW, UFUNC_FPE_INVALID
    int PyUFunc_GiveFloatingpointErrors(const char *name, int fpe_errors) except -1


cdef class PackedB:
    """B (kdim x n) packed by the C library for one format, k and
    instruction set; freed with the object. Read-only once made."""
    cdef lmul_packed *ptr
    cdef readonly int fmt, k
    cdef readonly Py_ssize_t kdim, n
    cdef readonly str isa

    def __cinit__(self, cnp.ndarray b, int fmt, int k):
        cdef const void *data = cnp.PyArray_DATA(b)
        cdef int64_t kdim = b.shape[0], n = b.shape[1]
        cdef int64_t rs = b.strides[0], cs = b.strides[1]
        cdef int status
        with nogil:
            status = lmul_gemm_pack(<lmul_format>fmt, kdim, n, data, rs, cs, k, &self.ptr)
        check_status(status, "lmul_gemm_pack")
        self.fmt, self.k, self.kdim, self.n = fmt, k, kdim, n
        self.isa = get_isa()

    def __dealloc__(self):
        lmul_packed_free(self.ptr)

    def compute(self, cnp.ndarray a, cnp.ndarray c, int a_fmt, int c_fmt):
        """c = a @ B for a 2-D a (m x kdim) and c (m x n), any strides."""
        cdef float one32 = 1.0, zero32 = 0.0
        cdef double one64 = 1.0, zero64 = 0.0
        cdef const void *one = &one64 if a_fmt == FMT_F64 else <const void *>&one32
        cdef const void *zero = &zero64 if a_fmt == FMT_F64 else <const void *>&zero32
        cdef const void *pa = cnp.PyArray_DATA(a)
        cdef void *pc = cnp.PyArray_DATA(c)
        cdef int64_t m = a.shape[0], rs_a = a.strides[0], cs_a = a.strides[1]
        cdef int64_t rs_c = c.strides[0], cs_c = c.strides[1]
        cdef int status
        if a.shape[1] != self.kdim or c.shape[0] != m or c.shape[1] != self.n:
            raise ValueError("shapes do not match the packed operand")
        cdef int raised
        with nogil:
            feclearexcept(FE_OVERFLOW | FE_INVALID)
            status = lmul_gemm_compute(m, one, <lmul_format>a_fmt, pa, rs_a, cs_a,
                                       self.ptr, zero, <lmul_format>c_fmt, pc, rs_c, cs_c)
            raised = fetestexcept(FE_OVERFLOW | FE_INVALID)
            feclearexcept(FE_OVERFLOW | FE_INVALID)
        check_status(status, "lmul_gemm_compute")
        # what a ufunc loop's flags would give: np.errstate decides (contract section 6)
        PyUFunc_GiveFloatingpointErrors(
            b"matmul", (UFUNC_FPE_OVERFLOW if raised & FE_OVERFLOW else 0)
            | (UFUNC_FPE_INVALID if raised & FE_INVALID else 0))


cdef check_status(int status, str what):
    if status == LMUL_ERR_NOMEM:
        raise MemoryError(f"{what}: out of memory")
    if status != LMUL_OK:
        raise ValueError(f"{what}: {lmul_strerror(status).decode()}")
