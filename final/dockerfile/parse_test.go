package dockerfile

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	got, err := Parse([]byte(`# a comment
FROM busybox AS base
RUN echo one \
  # a comment inside
  && echo two
COPY --chown=1:2 --from=base a "b c" /dst/
CMD ["sh", "-c", "echo hi"]
ENV A=1 B="two words"
`))
	require.NoError(t, err)
	require.Len(t, got, 5)
	assert.Equal(t, Instruction{Line: 2, Command: "FROM", Flags: map[string]string{}, Args: []string{"busybox", "AS", "base"}, Text: "FROM busybox AS base"}, got[0])
	assert.Equal(t, []string{"echo one  && echo two"}, got[1].Args)
	assert.Equal(t, 3, got[1].Line)
	assert.Equal(t, map[string]string{"chown": "1:2", "from": "base"}, got[2].Flags)
	assert.Equal(t, []string{"a", "b c", "/dst/"}, got[2].Args)
	assert.True(t, got[3].JSON)
	assert.Equal(t, []string{"sh", "-c", "echo hi"}, got[3].Args)
	assert.Equal(t, []string{"A=1", "B=two words"}, got[4].Args)
}

func TestParseRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"empty":        "# nothing\n",
		"open quote":   "ENV A=\"x\n",
		"continuation": "RUN a \\\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(text))
			assert.Error(t, err)
		})
	}
}
