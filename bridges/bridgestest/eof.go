package bridgestest

import "io"

var errEOF = io.EOF
