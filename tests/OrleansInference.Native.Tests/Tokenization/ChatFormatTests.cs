using OrleansInference.Native.Tokenization;
using Xunit;

namespace OrleansInference.Native.Tests.Tokenization;

public sealed class ChatFormatTests
{
    private static readonly ChatTurn[] Conversation =
    [
        new("system", "Be brief."),
        new("user", "Hi"),
        new("assistant", "Hello"),
        new("user", "More"),
    ];

    private const string Llama3Template =
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    private const string Llama31Template =
        "{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n{%- endif %}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n";

    private const string Llama2Template =
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    private const string MistralTemplate =
        "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}";

    private const string Qwen2Template =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private const string Qwen25Template =
        "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n";

    private static bool None(string _) => false;

    [Fact]
    public void Llama3_headers_with_bos()
    {
        var f = ChatFormat.Detect(Llama3Template, "<|begin_of_text|>", "<|eot_id|>", None);
        Assert.Equal(ChatFamily.Llama3, f.Family);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nMore<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            f.Render(Conversation, addGenerationPrompt: true));
    }

    [Fact]
    public void Llama31_always_writes_the_knowledge_date_system_block()
    {
        var f = ChatFormat.Detect(Llama31Template, "<|begin_of_text|>", "<|eot_id|>", None);
        Assert.True(f.KnowledgeDatePreamble);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
            f.Render([new ChatTurn("user", " Hi ")], addGenerationPrompt: false));
    }

    [Fact]
    public void Llama2_inst_blocks_with_the_system_in_the_first_user_turn()
    {
        var f = ChatFormat.Detect(Llama2Template, "<s>", "</s>", None);
        Assert.Equal(ChatFamily.Llama2, f.Family);
        Assert.Equal("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] More [/INST]", f.Render(Conversation, true));
    }

    [Fact]
    public void Mistral_inst_blocks()
    {
        var f = ChatFormat.Detect(MistralTemplate, "<s>", "</s>", None);
        Assert.Equal(ChatFamily.Mistral, f.Family);
        Assert.Equal("<s>[INST] Hi [/INST]Hello</s>[INST] More [/INST]", f.Render(Conversation[1..], true));
        Assert.Equal("<s>[INST] Be brief.\n\nHi [/INST]Hello</s>[INST] More [/INST]", f.Render(Conversation, true));
    }

    [Theory]
    [InlineData(Qwen2Template, "You are a helpful assistant.")]
    [InlineData(Qwen25Template, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")]
    public void ChatMl_with_the_templates_default_system(string template, string system)
    {
        var f = ChatFormat.Detect(template, null, "<|im_end|>", None);
        Assert.Equal(ChatFamily.ChatMl, f.Family);
        Assert.Equal(system, f.DefaultSystem);
        Assert.Equal($"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            f.Render([new ChatTurn("user", "Hi")], true));
        Assert.StartsWith("<|im_start|>system\nBe brief.<|im_end|>\n", f.Render(Conversation, true));
    }

    [Fact]
    public void Unknown_templates_fall_back_to_plain_chatml_and_tokens_decide_without_a_template()
    {
        Assert.Equal(ChatFormat.ChatMl, ChatFormat.Detect("{{ messages }}", null, null, None));
        Assert.Equal(ChatFamily.Llama3, ChatFormat.Detect(null, null, null, t => t == "<|start_header_id|>").Family);
        Assert.Equal(
            "<|im_start|>user\nHi<|im_end|>\n",
            ChatFormat.Detect(null, null, null, None).Render([new ChatTurn("user", "Hi")], addGenerationPrompt: false));
    }
}
