package record

import (
	"bytes"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// Pooled codecs must not leave goroutines behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCodecsConcurrently(t *testing.T) {
	p := bytes.Repeat([]byte("concurrent codec use "), 5000)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				c := codecs[(g+i)%len(codecs)]
				comp, err := Compress(c, p, nil)
				if err != nil {
					t.Error(err)
					return
				}
				out, err := Decompress(c, comp, nil, len(p))
				if err != nil || !bytes.Equal(out, p) {
					t.Errorf("%v: %v", c, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
