package jsonscan

import (
	"errors"

	"github.com/klauspost/compress/flate"
)

func isFlateCorrupt(err error) bool {
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		return true
	}
	var ie flate.InternalError
	return errors.As(err, &ie)
}
