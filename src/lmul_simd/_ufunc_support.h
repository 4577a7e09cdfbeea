/* What the Cython glue cannot express: a ufunc type resolver that refuses
 * inputs whose container is too narrow for the ufunc's k. */
#ifndef LMUL_UFUNC_SUPPORT_H
#define LMUL_UFUNC_SUPPORT_H

#include <Python.h>
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>

/* A loop's data holds k in its low 8 bits (a gufunc's also its format
 * above them, _core.pyx's gufunc_data). */

/* Used by the ufuncs whose k exceeds the 23 bits of the float32 container:
 * they only have float64 loops, and NumPy would otherwise cast float16 and
 * float32 inputs up to float64 silently, computing a k the format lacks. */
static int lmul_float64_container_resolver(PyUFuncObject *ufunc,
                                           NPY_CASTING casting,
                                           PyArrayObject **operands,
                                           PyObject *type_tup,
                                           PyArray_Descr **out_dtypes)
{
    PyArray_Descr *format = PyArray_ResultType(ufunc->nin, operands, 0, NULL);
    if (format == NULL)
        return -1;
    const int narrow = PyDataType_ELSIZE(format) < 8
        && (format->type_num == NPY_HALF || format->type_num == NPY_FLOAT
            || format->type_num >= NPY_USERDEF);   /* bfloat16, float8 */
    if (narrow) {
        PyErr_Format(PyExc_ValueError,
                     "%s: k = %ld mantissa bits is out of range 1..23 for %S "
                     "inputs (computed in the float32 container); cast them to "
                     "float64 to use k up to 52",
                     ufunc->name, (long)((intptr_t)ufunc->data[0] & 0xFF),
                     (PyObject *)format);
    }
    Py_DECREF(format);
    if (narrow)
        return -1;
    return PyUFunc_DefaultTypeResolver(ufunc, casting, operands, type_tup, out_dtypes);
}

static void lmul_use_float64_container_resolver(PyObject *ufunc)
{
    ((PyUFuncObject *)ufunc)->type_resolver = &lmul_float64_container_resolver;
}

#endif
