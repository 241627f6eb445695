package backup

import (
	"context"
	"io"
	"os/exec"
)

// runToolInto is runTool for a program whose standard output goes to out (pg_dump into the
// compressor), through outputPipe instead of os/exec's pipe. It copies as os/exec would:
// out.ReadFrom, when out has it, reads the pipe straight into its own buffer. Should out
// fail, the read end is closed so the program's writes fail and it exits; the program's
// own failure is returned first, as the cause.
func runToolInto(ctx context.Context, cmd *exec.Cmd, what string, debug, out io.Writer) error {
	r, w, err := outputPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = w
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, r)
		r.Close()
		copied <- err
	}()
	runErr := runTool(ctx, cmd, what, debug)
	// The program has exited, and the child's copy of w with it: closing ours ends the copy.
	w.Close()
	copyErr := <-copied
	if runErr != nil {
		return runErr
	}
	return copyErr
}
